//! What a publisher takes for granted: removing a file from a draft, restoring a deleted
//! model until it is purged (purging asks for the name typed out), and a public profile with
//! links and a picture. Each is driven through the forms' server functions as a browser
//! sends them, with and without JavaScript.
mod common;

use common::TestApp;
use http::header;

/// A publisher named `name` with a draft model `name/tiny`, version 1.0.0, holding
/// `README.md` and `notes.txt`: their session cookie.
async fn publisher_with_draft(app: &TestApp, name: &str) -> String {
    let cookie = app.sign_up(name).await;
    let enabled = app
        .post_form("/api/enable_publishing", "", Some(&cookie))
        .await;
    assert_eq!(enabled.status(), 200);
    let user = domain::catalog::find_user(&app.state.db, name)
        .await
        .unwrap()
        .unwrap();
    let fields = domain::listings::ListingFields {
        name: "Tiny",
        summary: "",
        task: "other",
        tags: &[],
        card: "",
    };
    domain::listings::create(&app.state, &user, name, "tiny", fields, None)
        .await
        .unwrap();
    let version = domain::listings::create_version(&app.state, &user, name, "tiny", "1.0.0", "")
        .await
        .unwrap();
    for (path, text) in [("README.md", "# Tiny\n"), ("notes.txt", "notes\n")] {
        let chunk = Ok::<_, std::io::Error>(bytes::Bytes::from_static(text.as_bytes()));
        domain::publishing::add_file(
            &app.state.db,
            &app.state.storage,
            &version,
            path,
            futures::stream::iter([chunk]),
            false,
        )
        .await
        .unwrap();
    }
    cookie
}

async fn draft_files(app: &TestApp, cookie: &str, at: &str) -> Vec<String> {
    let (owner, slug) = at.split_once('/').unwrap();
    let body = format!("owner={owner}&slug={slug}");
    let overview: serde_json::Value = app
        .post_form("/api/upload_overview", &body, Some(cookie))
        .await
        .json()
        .await
        .unwrap();
    overview["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_owned())
        .collect()
}

/// The deleted listings `cookie`'s holder may restore, as the page gets them.
async fn deleted_listings(app: &TestApp, cookie: &str) -> serde_json::Value {
    app.post_form("/api/my_deleted_listings", "", Some(cookie))
        .await
        .json()
        .await
        .unwrap()
}

async fn a_file_is_removed_from_a_draft_and_its_bytes_with_it(app: TestApp) {
    let cookie = publisher_with_draft(&app, "ada").await;
    let key_of = |path: &'static str| {
        let db = app.state.db.clone();
        async move {
            use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
            domain::entities::file::Entity::find()
                .filter(domain::entities::file::Column::Path.eq(path))
                .one(&db)
                .await
                .unwrap()
                .map(|f| f.object_key)
        }
    };
    let notes_key = key_of("notes.txt").await.unwrap();
    let remove = "owner=ada&slug=tiny&version=1.0.0&path=notes.txt";

    // Another person cannot: to them the draft does not exist.
    let stranger = app.sign_up("mallory").await;
    let refused = app
        .post_form("/api/remove_draft_file", remove, Some(&stranger))
        .await;
    assert_eq!(refused.status(), 404);

    let removed = app
        .post_form("/api/remove_draft_file", remove, Some(&cookie))
        .await;
    assert_eq!(removed.status(), 200, "{}", removed.text().await.unwrap());
    assert_eq!(draft_files(&app, &cookie, "ada/tiny").await, ["README.md"]);
    assert!(key_of("notes.txt").await.is_none());
    assert!(
        app.state.storage.read_all(&notes_key).await.is_err(),
        "the removed file's bytes are gone from storage"
    );
    let again = app
        .post_form("/api/remove_draft_file", remove, Some(&cookie))
        .await;
    assert_eq!(again.status(), 404, "a file that is not there");

    // A published version never changes.
    let published = app
        .post_form(
            "/api/publish_draft",
            "owner=ada&slug=tiny&version=1.0.0",
            Some(&cookie),
        )
        .await;
    assert!(published.status().is_success() || published.status().is_redirection());
    let frozen = app
        .post_form(
            "/api/remove_draft_file",
            "owner=ada&slug=tiny&version=1.0.0&path=README.md",
            Some(&cookie),
        )
        .await;
    assert_eq!(frozen.status(), 409);
    assert!(key_of("README.md").await.is_some());
}

async fn deleted_models_are_restored_until_purged_by_typed_name(app: TestApp) {
    let cookie = publisher_with_draft(&app, "grace").await;
    let deleted = app
        .post_form(
            "/api/delete_listing",
            "owner=grace&slug=tiny&confirm=tiny",
            Some(&cookie),
        )
        .await;
    let location = deleted.headers()[header::LOCATION].to_str().unwrap();
    assert_eq!(location, "/settings/deleted?deleted=grace/tiny");
    let (status, page) = app.get_text("/grace/tiny").await;
    assert_eq!(status, 404, "a deleted model is gone: {page:.200}");

    // The page the deletion lands on says so, and lists it.
    let landing = app
        .client
        .get(app.url(location))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(landing.contains("grace/tiny is deleted"), "{landing:.2000}");
    assert!(landing.contains(r#"data-model="grace/tiny""#));

    let listed = deleted_listings(&app, &cookie).await;
    let id = listed[0]["id"].as_i64().unwrap();
    assert_eq!(listed[0]["files"], 2);

    // Strangers can neither restore nor purge it, nor tell it exists.
    let stranger = app.sign_up("eve").await;
    for (path, body) in [
        ("/api/restore_listing", format!("id={id}")),
        (
            "/api/purge_listing",
            format!("id={id}&confirm=grace%2Ftiny"),
        ),
    ] {
        let refused = app.post_form(path, &body, Some(&stranger)).await;
        assert_eq!(refused.status(), 404, "{path}");
    }
    let stranger_list = deleted_listings(&app, &stranger).await;
    assert_eq!(stranger_list, serde_json::json!([]));

    let restored = app
        .post_form("/api/restore_listing", &format!("id={id}"), Some(&cookie))
        .await;
    assert_eq!(restored.status(), 200);
    assert_eq!(
        draft_files(&app, &cookie, "grace/tiny").await,
        ["README.md", "notes.txt"],
        "restored with its files"
    );

    // Purging asks for the name typed out, and refuses anything else with nothing lost.
    let unreadable = app
        .post_form("/api/purge_listing", &format!("id={id}"), Some(&cookie))
        .await;
    assert_eq!(
        unreadable.status(),
        400,
        "a missing field is the caller's mistake"
    );
    app.post_form(
        "/api/delete_listing",
        "owner=grace&slug=tiny&confirm=tiny",
        Some(&cookie),
    )
    .await;
    let wrong = app
        .post_form(
            "/api/purge_listing",
            &format!("id={id}&confirm=tiny"),
            Some(&cookie),
        )
        .await;
    assert_eq!(wrong.status(), 422);
    let error: serde_json::Value = wrong.json().await.unwrap();
    assert_eq!(error["Invalid"]["field"], "confirm", "{error}");
    let still = deleted_listings(&app, &cookie).await;
    assert_eq!(still[0]["id"], id);

    let purged = app
        .post_form(
            "/api/purge_listing",
            &format!("id={id}&confirm=grace%2Ftiny"),
            Some(&cookie),
        )
        .await;
    assert_eq!(purged.status(), 200);
    let gone = app
        .post_form("/api/restore_listing", &format!("id={id}"), Some(&cookie))
        .await;
    assert_eq!(gone.status(), 404, "a purged model cannot come back");
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let recorded = domain::entities::audit_entry::Entity::find()
        .filter(domain::entities::audit_entry::Column::Action.eq("listing_purge"))
        .one(&app.state.db)
        .await
        .unwrap()
        .expect("the purge is audited");
    assert_eq!(
        recorded.actor_kind, "user",
        "its publisher purged it, needing no admin rights"
    );
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\0\x05\0\x01\xff\x89\x99=\x1d\0\0\0\0IEND\xaeB`\x82";

/// Posts `bytes` as the picture form does, from a browser (with or without JavaScript).
async fn upload_picture(app: &TestApp, cookie: &str, bytes: &[u8]) -> reqwest::Response {
    let boundary = "----bazaar-test-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"avatar\"; filename=\"me.png\"\r\nContent-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    app.client
        .post(app.url("/api/v1/me/avatar"))
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .header(header::ACCEPT, "text/html,application/xhtml+xml")
        .header("sec-fetch-site", "same-origin")
        .header(header::COOKIE, cookie)
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn the_profile_shows_on_the_public_page(app: TestApp) {
    let cookie = publisher_with_draft(&app, "hopper").await;
    let bad = app
        .post_form(
            "/api/update_profile",
            "display_name=Grace+Hopper&bio=Compilers.&links=javascript%3Aalert(1)",
            Some(&cookie),
        )
        .await;
    assert_eq!(bad.status(), 422);
    let error: serde_json::Value = bad.json().await.unwrap();
    assert_eq!(error["Invalid"]["field"], "links");

    let saved = app
        .post_form(
            "/api/update_profile",
            "display_name=Grace+Hopper&bio=Compilers+and+COBOL.&links=https%3A%2F%2Fexample.org%2Fgrace%0D%0A%0D%0Ahttps%3A%2F%2Fcode.example.org",
            Some(&cookie),
        )
        .await;
    assert_eq!(saved.status(), 200);

    let uploaded = upload_picture(&app, &cookie, PNG).await;
    assert_eq!(uploaded.status(), 303);
    assert_eq!(
        uploaded.headers()[header::LOCATION],
        "/settings?picture=saved"
    );
    for refused in [&b"<svg xmlns='http://www.w3.org/2000/svg'/>"[..], &[]] {
        let answer = upload_picture(&app, &cookie, refused).await;
        assert_eq!(
            answer.headers()[header::LOCATION],
            "/settings?picture=refused"
        );
    }
    let too_big = [PNG, &vec![0u8; 1024 * 1024]].concat();
    let answer = upload_picture(&app, &cookie, &too_big).await;
    assert_eq!(
        answer.headers()[header::LOCATION],
        "/settings?picture=refused"
    );

    let (status, page) = app.get_text("/hopper").await;
    assert_eq!(status, 200);
    assert!(page.contains("Grace Hopper") && page.contains("Compilers and COBOL."));
    assert!(
        page.contains(r#"href="https://example.org/grace" rel="nofollow ugc noopener noreferrer""#),
        "{page}"
    );
    assert!(
        page.contains(">code.example.org<"),
        "links read without their scheme"
    );
    let src = page
        .split(r#"<img src=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("the picture shows: {page}"))
        .to_owned();
    let picture = app.get(&src).await;
    assert_eq!(picture.status(), 200);
    assert_eq!(picture.headers()[header::CONTENT_TYPE], "image/png");
    assert!(picture.headers()[header::CACHE_CONTROL]
        .to_str()
        .unwrap()
        .contains("immutable"));
    assert_eq!(&picture.bytes().await.unwrap()[..], PNG);

    // Only a current picture is served: not a model's file by its key, not a replaced one.
    use sea_orm::EntityTrait;
    let file = domain::entities::file::Entity::find()
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let by_key = domain::profiles::avatar_url(&file.object_key);
    assert_eq!(app.get(&by_key).await.status(), 404);
    let removed = app.post_form("/api/remove_avatar", "", Some(&cookie)).await;
    assert_eq!(removed.status(), 200);
    assert_eq!(app.get(&src).await.status(), 404);
    let (_, page) = app.get_text("/hopper").await;
    assert!(
        !page.contains(r#"data-testid="avatar""#),
        "the initial shows again"
    );
}

/// A form posted without JavaScript comes back to its page: on failure with what was typed
/// (never a password) and the error; on success saying so.
async fn forms_without_javascript_keep_typed_values_and_say_when_done(app: TestApp) {
    let cookie = app.sign_up("lovelace").await;
    let post = |body: &'static str| {
        app.client
            .post(app.url("/api/update_profile"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "text/html")
            .header(header::REFERER, app.url("/settings"))
            .header("sec-fetch-site", "same-origin")
            .header(header::COOKIE, &cookie)
            .body(body)
            .send()
    };
    let failed = post("display_name=Ada+L.&bio=Notes+on+the+engine&links=ftp%3A%2F%2Fold.example&password=never+kept")
        .await
        .unwrap();
    assert!(failed.status().is_redirection());
    let location = failed.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(location.contains("__err="), "{location}");
    let kept = failed
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|c| c.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("bazaar_form="))
        .expect("the typed values are kept");
    assert!(
        kept.contains("Max-Age=60") && kept.contains("HttpOnly"),
        "{kept}"
    );
    assert!(!kept.contains("never"), "a password is never kept: {kept}");
    let kept_pair = kept.split(';').next().unwrap().to_owned();

    let page = app
        .client
        .get(&location)
        .header(header::COOKIE, format!("{cookie}; {kept_pair}"))
        .send()
        .await
        .unwrap();
    let clears = page.headers().get_all(header::SET_COOKIE).iter().any(|c| {
        c.to_str().unwrap().starts_with("bazaar_form=;")
            && c.to_str().unwrap().contains("Max-Age=0")
    });
    assert!(clears, "the kept values are shown once");
    let html = page.text().await.unwrap();
    assert!(
        html.contains(r#"value="Ada L.""#),
        "typed name back in its field"
    );
    assert!(html.contains("Notes on the engine</textarea>"));
    assert!(html.contains("ftp://old.example</textarea>"));
    assert!(
        html.contains(r#"data-field="links""#) && html.contains("must start with https://"),
        "the error shows beside its field"
    );

    let done = post("display_name=Ada&bio=&links=").await.unwrap();
    let location = done.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        location.ends_with("/settings?__done=%2Fapi%2Fupdate_profile"),
        "{location}"
    );
    let html = app
        .client
        .get(&location)
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Profile saved."),
        "success is said without JavaScript"
    );
    assert!(
        !html.contains("Password changed"),
        "only the form that was sent says so"
    );
}

on_each_database!(
    a_file_is_removed_from_a_draft_and_its_bytes_with_it,
    deleted_models_are_restored_until_purged_by_typed_name,
    the_profile_shows_on_the_public_page,
    forms_without_javascript_keep_typed_values_and_say_when_done,
);
