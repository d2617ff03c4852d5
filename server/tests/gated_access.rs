//! Gated models: the terms are accepted (and recorded by their hash), the publisher approves
//! or declines, and the files open for the requester — or for every member of the
//! organization they asked for, and nobody else.
mod common;

use common::{Auth, TestApp};
use domain::entities::{access_request, license_offer, membership};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};

on_each_database!(
    a_gated_file_opens_once_the_publisher_approves,
    an_organization_request_opens_the_files_to_its_members_only,
);

fn accept_body(offer: &license_offer::Model, org: Option<&str>) -> String {
    let sha = domain::licensing::offers::terms_sha256(&offer.terms);
    let org = org.map(|o| format!("&org={o}")).unwrap_or_default();
    format!("offer_id={}&terms_sha256={sha}&accept=yes{org}", offer.id)
}

/// A site administrator, who decides for the seeded publishers (they have no log-in).
async fn admin(app: &TestApp) -> String {
    let cookie = app.sign_up("boss").await;
    common::make_admin(app, "boss").await;
    cookie
}

/// Approves or declines every pending request as `admin`.
async fn decide_all(app: &TestApp, admin: &str, approve: bool) {
    let pending = access_request::Entity::find()
        .filter(access_request::Column::Status.eq("pending"))
        .all(&app.state.db)
        .await
        .unwrap();
    assert!(!pending.is_empty());
    for request in pending {
        let decided = app
            .post_form(
                "/api/decide_access",
                &format!("request_id={}&approve={approve}", request.id),
                Some(admin),
            )
            .await;
        assert_eq!(decided.status(), 200);
    }
}

async fn a_gated_file_opens_once_the_publisher_approves(app: TestApp) {
    let (offer, file) = common::sold_file(&app, "iris-species").await;
    let boss = admin(&app).await;
    let asker = app.sign_up("asker").await;
    assert_eq!(app.api_get(&file, Auth::Cookie(&asker)).await.status(), 403);

    let page = app
        .api_get("/sklearn-lab/iris-species", Auth::Cookie(&asker))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Research and evaluation only"),
        "the terms show before accepting"
    );
    assert!(page.contains("data-testid=\"request-access\""));

    let unticked = app
        .post_form(
            "/api/request_access",
            &accept_body(&offer, None).replace("&accept=yes", ""),
            Some(&asker),
        )
        .await;
    assert_eq!(unticked.status(), 422, "the terms must be accepted");
    let stale = app
        .post_form(
            "/api/request_access",
            &format!(
                "offer_id={}&terms_sha256={}&accept=yes",
                offer.id,
                "0".repeat(64)
            ),
            Some(&asker),
        )
        .await;
    assert_eq!(stale.status(), 422, "terms other than the current ones");

    let asked = app
        .post_form(
            "/api/request_access",
            &accept_body(&offer, None),
            Some(&asker),
        )
        .await;
    assert_eq!(asked.status(), 200);
    assert_eq!(
        asked.text().await.unwrap(),
        "false",
        "it waits for the publisher"
    );
    let recorded = access_request::Entity::find()
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        recorded.terms_sha256,
        domain::licensing::offers::terms_sha256(&offer.terms)
    );
    assert_eq!(
        app.api_get(&file, Auth::Cookie(&asker)).await.status(),
        403,
        "not before approval"
    );

    decide_all(&app, &boss, true).await;
    assert!(app.mail_to("asker@example.org").subject.contains("granted"));
    assert_eq!(app.api_get(&file, Auth::Cookie(&asker)).await.status(), 200);
    let again = app
        .post_form(
            "/api/request_access",
            &accept_body(&offer, None),
            Some(&asker),
        )
        .await;
    assert_eq!(again.status(), 409, "already has access");

    let other = app.sign_up("other").await;
    app.post_form(
        "/api/request_access",
        &accept_body(&offer, None),
        Some(&other),
    )
    .await;
    decide_all(&app, &boss, false).await;
    assert!(app
        .mail_to("other@example.org")
        .subject
        .contains("declined"));
    assert_eq!(app.api_get(&file, Auth::Cookie(&other)).await.status(), 403);
}

async fn an_organization_request_opens_the_files_to_its_members_only(app: TestApp) {
    let (offer, file) = common::sold_file(&app, "iris-species").await;
    let boss = admin(&app).await;
    let alice = app.sign_up("alice").await;
    let created = app
        .post_form(
            "/api/create_org",
            "name=acme&display_name=Acme",
            Some(&alice),
        )
        .await;
    assert!(created.status().is_success() || created.status().is_redirection());
    let bob = app.sign_up("bob").await;
    let carol = app.sign_up("carol").await;
    let org = domain::catalog::find_user(&app.state.db, "acme")
        .await
        .unwrap()
        .unwrap();
    let bob_user = domain::catalog::find_user(&app.state.db, "bob")
        .await
        .unwrap()
        .unwrap();
    membership::ActiveModel {
        org_id: Set(org.id),
        user_id: Set(bob_user.id),
        role: Set("member".into()),
        created_at: Set(chrono::Utc::now()),
    }
    .insert(&app.state.db)
    .await
    .unwrap();

    let by_member = app
        .post_form(
            "/api/request_access",
            &accept_body(&offer, Some("acme")),
            Some(&bob),
        )
        .await;
    assert_eq!(
        by_member.status(),
        422,
        "only an owner or admin asks for the organization"
    );
    let asked = app
        .post_form(
            "/api/request_access",
            &accept_body(&offer, Some("acme")),
            Some(&alice),
        )
        .await;
    assert_eq!(asked.status(), 200);
    decide_all(&app, &boss, true).await;
    assert_eq!(app.api_get(&file, Auth::Cookie(&alice)).await.status(), 200);
    assert_eq!(
        app.api_get(&file, Auth::Cookie(&bob)).await.status(),
        200,
        "a member"
    );
    assert_eq!(
        app.api_get(&file, Auth::Cookie(&carol)).await.status(),
        403,
        "not a member"
    );
}
