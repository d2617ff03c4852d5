//! Deleting one's own account from the settings page's form: every way in ends, the name and
//! address are free again, the models go where the person chose, and any refusal changes
//! nothing.
mod common;

use common::{make_admin, Auth, TestApp, PASSWORD};
use domain::entities::user;
use serde_json::Value;

on_each_database!(
    deleting_ends_every_way_in_and_frees_the_name_and_address,
    models_handed_to_an_organization_live_on_under_its_name,
    hidden_models_leave_the_catalog_for_the_admins_deleted_list,
    the_only_owner_of_an_organization_is_refused_and_nothing_changes,
    a_wrong_password_or_username_is_refused_and_nothing_changes,
);

const RIGHT: &str = "password=correct+horse+battery+staple&confirm=ada";

async fn delete(app: &TestApp, cookie: &str, body: &str) -> reqwest::Response {
    app.post_form("/api/delete_account", body, Some(cookie))
        .await
}

/// Who the server says `auth` is, if anyone.
async fn whoami(app: &TestApp, auth: Auth<'_>) -> Option<String> {
    let response = app.api_get("/api/v1/whoami", auth).await;
    if response.status() == 401 {
        return None;
    }
    let me: Value = response.json().await.unwrap();
    Some(me["username"].as_str().unwrap().to_owned())
}

async fn user(app: &TestApp, username: &str) -> Option<user::Model> {
    domain::catalog::find_user(&app.state.db, username)
        .await
        .unwrap()
}

/// Ada, a publisher with a session and a write token: `(cookie, token)`.
async fn ada(app: &TestApp) -> (String, String) {
    let token = app.publisher_token("ada").await;
    let cookie = common::session_cookie_of(&app.log_in("ada", PASSWORD).await);
    (cookie, token)
}

/// A published model `owner/slug` with one small file, made by `publisher`.
async fn publish(app: &TestApp, publisher: &str, owner: &str, slug: &str) {
    let publisher = user(app, publisher).await.unwrap();
    let fields = domain::listings::ListingFields {
        name: "Digits",
        summary: "",
        task: "other",
        tags: &[],
        card: "",
    };
    domain::listings::create(&app.state, &publisher, owner, slug, fields, None)
        .await
        .unwrap();
    let version =
        domain::listings::create_version(&app.state, &publisher, owner, slug, "1.0.0", "")
            .await
            .unwrap();
    let chunk: Result<bytes::Bytes, std::io::Error> = Ok(bytes::Bytes::from_static(b"weights"));
    let body = futures::stream::iter([chunk]);
    domain::publishing::add_file(
        &app.state.db,
        &app.state.storage,
        &version,
        "notes.txt",
        body,
        false,
    )
    .await
    .unwrap();
    domain::listings::publish_version(&app.state, &publisher, owner, slug, "1.0.0")
        .await
        .unwrap();
}

/// Whether the catalog lists a model called `slug`.
async fn listed(app: &TestApp, slug: &str) -> bool {
    let models: Value = app
        .post_form("/api/list_models", "", None)
        .await
        .json()
        .await
        .unwrap();
    models.as_array().unwrap().iter().any(|m| m["slug"] == slug)
}

async fn page_status(app: &TestApp, path: &str) -> u16 {
    app.get(path).await.status().as_u16()
}

/// Makes `owner`'s organization `name`, with `others` invited as `role` and accepted.
async fn org(app: &TestApp, owner: &str, name: &str, others: &[(&str, &str)]) {
    let owner = user(app, owner).await.unwrap();
    let org = domain::orgs::create(&app.state.db, &owner, name, "", "t")
        .await
        .unwrap();
    for (username, role) in others {
        let role = domain::orgs::Role::parse(role).unwrap();
        domain::orgs::invite(&app.state, &owner, &org, username, role, "t")
            .await
            .unwrap();
        let person = user(app, username).await.unwrap();
        domain::orgs::accept(&app.state.db, &person, &org, "t")
            .await
            .unwrap();
    }
}

async fn deleting_ends_every_way_in_and_frees_the_name_and_address(app: TestApp) {
    let (cookie, token) = ada(&app).await;
    let other_session = common::session_cookie_of(&app.log_in("ada", PASSWORD).await);
    let id = user(&app, "ada").await.unwrap().id;
    // A profile with a bio, links and a picture.
    let profile = app
        .post_form(
            "/api/update_profile",
            "display_name=Ada+L.&bio=Engines&links=https%3A%2F%2Fexample.org%2Fada",
            Some(&cookie),
        )
        .await;
    assert_eq!(profile.status(), 200);
    let picture = app
        .client
        .post(app.url("/api/v1/me/avatar"))
        .header("sec-fetch-site", "same-origin")
        .header(http::header::COOKIE, &cookie)
        .body(&b"GIF89a\x01\0\x01\0"[..])
        .send()
        .await
        .unwrap();
    assert_eq!(picture.status(), 200);
    let picture_key = user(&app, "ada").await.unwrap().avatar_key.unwrap();

    let deleted = delete(&app, &cookie, RIGHT).await;
    assert_eq!(deleted.status(), 200, "{}", deleted.text().await.unwrap());
    assert_eq!(
        deleted
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok()),
        Some("/?deleted=1"),
        "the browser lands on the home page, which says so"
    );
    let cleared = deleted.headers()[http::header::SET_COOKIE]
        .to_str()
        .unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let (_, home) = app.get_text("/?deleted=1").await;
    assert!(home.contains("Your account is deleted."), "{home}");

    for auth in [
        Auth::Cookie(&cookie),
        Auth::Cookie(&other_session),
        Auth::Bearer(&token),
    ] {
        assert_eq!(whoami(&app, auth).await, None);
    }
    assert_eq!(app.log_in("ada", PASSWORD).await.status(), 401);
    assert_eq!(app.log_in("ada@example.org", PASSWORD).await.status(), 401);

    // The row stays, for what refers to it, naming nobody.
    use sea_orm::EntityTrait;
    let row = user::Entity::find_by_id(id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.username, format!("deleted--{id}"));
    assert_eq!(row.display_name, "Deleted user");
    assert_eq!((row.email, row.password_hash), (None, None));
    assert_eq!((row.bio.as_str(), row.links.as_str()), ("", ""));
    assert_eq!(row.avatar_key, None);
    assert!(
        app.state.storage.read_all(&picture_key).await.is_err(),
        "the picture's bytes are gone"
    );
    use sea_orm::{ColumnTrait, QueryFilter};
    let recorded = domain::entities::audit_entry::Entity::find()
        .filter(domain::entities::audit_entry::Column::Action.eq("account_delete"))
        .one(&app.state.db)
        .await
        .unwrap()
        .expect("recorded");
    assert_eq!(recorded.actor_id, Some(id));

    // The name and the address are anyone's again.
    let again = app.sign_up("ada").await;
    assert_eq!(
        whoami(&app, Auth::Cookie(&again)).await.as_deref(),
        Some("ada")
    );
    assert_ne!(user(&app, "ada").await.unwrap().id, id);
}

async fn models_handed_to_an_organization_live_on_under_its_name(app: TestApp) {
    let (cookie, _) = ada(&app).await;
    app.sign_up("bob").await;
    org(&app, "ada", "acme", &[("bob", "owner")]).await;
    publish(&app, "ada", "ada", "digits").await;
    publish(&app, "ada", "ada", "letters").await;
    publish(&app, "ada", "acme", "letters").await;

    // A name the organization already uses is refused, naming it, before anything changes.
    let clash = delete(&app, &cookie, &format!("{RIGHT}&hand_to=acme")).await;
    assert_eq!(clash.status(), 422);
    let text = clash.text().await.unwrap();
    assert!(
        text.contains("acme already has a model called letters"),
        "{text}"
    );
    assert!(text.contains("hand_to"), "{text}");
    assert_eq!(
        whoami(&app, Auth::Cookie(&cookie)).await.as_deref(),
        Some("ada")
    );
    assert_eq!(page_status(&app, "/ada/digits").await, 200);

    // Only to an organization the person manages.
    let foreign = delete(&app, &cookie, &format!("{RIGHT}&hand_to=sklearn-lab")).await;
    assert_eq!(foreign.status(), 422);

    let bob = user(&app, "bob").await.unwrap();
    let acme = domain::orgs::find(&app.state.db, "acme").await.unwrap();
    domain::listings::delete(&app.state, &bob, "acme", "letters", "test")
        .await
        .unwrap();
    let clash = delete(&app, &cookie, &format!("{RIGHT}&hand_to=acme")).await;
    assert_eq!(
        clash.status(),
        422,
        "a deleted model still holds its name until purged"
    );
    let admin_cookie = app.sign_up("root").await;
    make_admin(&app, "root").await;
    let root = user(&app, "root").await.unwrap();
    let gone = domain::listings::deleted(&app.state, &root).await.unwrap();
    let id = gone
        .iter()
        .find(|d| d.owner.id == acme.id)
        .unwrap()
        .listing
        .id;
    let purged = app
        .post_form(
            "/api/purge_listing",
            &format!("id={id}&confirm=acme%2Fletters"),
            Some(&admin_cookie),
        )
        .await;
    assert_eq!(purged.status(), 200);

    let deleted = delete(&app, &cookie, &format!("{RIGHT}&hand_to=acme")).await;
    assert_eq!(deleted.status(), 200, "{}", deleted.text().await.unwrap());
    for slug in ["digits", "letters"] {
        assert_eq!(
            page_status(&app, &format!("/acme/{slug}")).await,
            200,
            "{slug}"
        );
        assert_eq!(
            page_status(&app, &format!("/ada/{slug}")).await,
            404,
            "{slug}"
        );
    }
    let members: Vec<String> = domain::orgs::members(&app.state.db, acme.id)
        .await
        .unwrap()
        .into_iter()
        .map(|(person, _)| person.username)
        .collect();
    assert_eq!(members, ["bob"]);
}

async fn hidden_models_leave_the_catalog_for_the_admins_deleted_list(app: TestApp) {
    let (cookie, _) = ada(&app).await;
    publish(&app, "ada", "ada", "digits").await;
    assert!(listed(&app, "digits").await);
    let deleted = delete(&app, &cookie, &format!("{RIGHT}&hand_to=")).await;
    assert_eq!(deleted.status(), 200);
    assert!(!listed(&app, "digits").await, "gone from the catalog");
    assert_eq!(page_status(&app, "/ada/digits").await, 404);

    let admin = app.sign_up("root").await;
    make_admin(&app, "root").await;
    let waiting: Value = app
        .post_form("/api/deleted_listings", "", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    let row = waiting
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["slug"] == "digits")
        .expect("listed for purging");
    assert!(
        row["owner"].as_str().unwrap().starts_with("deleted--"),
        "{row}"
    );
}

async fn the_only_owner_of_an_organization_is_refused_and_nothing_changes(app: TestApp) {
    let (cookie, token) = ada(&app).await;
    app.sign_up("bob").await;
    org(&app, "ada", "acme", &[("bob", "admin")]).await;
    publish(&app, "ada", "ada", "digits").await;
    let refused = delete(&app, &cookie, &format!("{RIGHT}&hand_to=acme")).await;
    assert_eq!(refused.status(), 409);
    let text = refused.text().await.unwrap();
    assert!(
        text.contains("you are the only owner of acme; make someone else owner first"),
        "{text}"
    );
    assert_unchanged(&app, &cookie, &token).await;
    let acme = domain::orgs::find(&app.state.db, "acme").await.unwrap();
    assert_eq!(
        domain::orgs::members(&app.state.db, acme.id)
            .await
            .unwrap()
            .len(),
        2
    );
}

async fn a_wrong_password_or_username_is_refused_and_nothing_changes(app: TestApp) {
    let (cookie, token) = ada(&app).await;
    publish(&app, "ada", "ada", "digits").await;
    for (body, field) in [
        ("password=not+my+password+at+all&confirm=ada", "password"),
        (
            "password=correct+horse+battery+staple&confirm=adb",
            "confirm",
        ),
        ("password=correct+horse+battery+staple&confirm=", "confirm"),
    ] {
        let refused = delete(&app, &cookie, body).await;
        assert_eq!(refused.status(), 422, "{body}");
        let error: Value = refused.json().await.unwrap();
        assert_eq!(error["Invalid"]["field"], field, "{error}");
    }
    assert_unchanged(&app, &cookie, &token).await;
}

/// Ada's account as it was: logged in, her token working, her model listed.
async fn assert_unchanged(app: &TestApp, cookie: &str, token: &str) {
    assert_eq!(
        whoami(app, Auth::Cookie(cookie)).await.as_deref(),
        Some("ada")
    );
    assert_eq!(
        whoami(app, Auth::Bearer(token)).await.as_deref(),
        Some("ada")
    );
    assert_eq!(page_status(app, "/ada/digits").await, 200);
    let ada = user(app, "ada").await.unwrap();
    assert_eq!(ada.email.as_deref(), Some("ada@example.org"));
    assert!(ada.password_hash.is_some());
}
