//! Publishing through the REST API: listings, versions, and resumable uploads with format
//! checks, against the real server and object store.
mod common;
#[path = "../../domain/tests/support/moto.rs"]
mod moto;

use common::TestApp;
use http::header;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

on_each_database!(
    a_publisher_uploads_in_parts_publishes_and_the_page_shows_the_metadata,
    an_upload_resumes_from_the_offset_after_the_connection_is_cut,
    refused_files_and_paths_never_become_visible,
    a_published_version_refuses_changes_and_others_cannot_publish_here,
    the_cards_demo_file_is_public_and_a_deleted_listing_is_purged,
    a_paid_models_demo_must_differ_from_what_it_sells,
    a_new_request_takes_over_from_a_stalled_one,
    a_late_upload_into_a_version_published_meanwhile_is_refused_and_leaves_nothing,
    a_late_upload_into_a_deleted_listing_is_refused_and_leaves_nothing,
    a_member_removed_from_the_organization_mid_upload_cannot_complete,
    a_publisher_whose_publishing_was_turned_off_mid_upload_cannot_complete,
    rights_taken_away_while_the_last_bytes_stream_in_still_count,
    the_database_refuses_to_change_a_published_version,
    an_uploaded_readme_becomes_the_card_and_names_the_demo,
);

/// Like `on_each_database!`, with the server's configuration adjusted first.
macro_rules! on_each_database_with {
    ($test:ident, $adjust:expr) => {
        mod $test {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = crate::common::spawn_app_with(crate::common::Db::Sqlite, $adjust)
                    .await
                    .unwrap();
                super::$test(app).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                match crate::common::spawn_app_with(crate::common::Db::Postgres, $adjust).await {
                    Some(app) => super::$test(app).await,
                    None => eprintln!("DATABASE_URL is not set; PostgreSQL variant not run"),
                }
            }
        }
    };
}

on_each_database_with!(
    parallel_declarations_cannot_exceed_the_owners_limits,
    |config: &mut server::config::Config| {
        config.storage_quota_bytes = 10 << 20;
        config.max_unfinished_uploads_per_owner = 3;
    }
);

on_each_database_with!(
    owners_have_a_storage_quota_and_a_limit_on_unfinished_uploads,
    |config: &mut server::config::Config| {
        config.storage_quota_bytes = 1 << 20;
        config.max_unfinished_uploads_per_owner = 2;
    }
);

/// A publisher with a write token: `(cookie, token)`.
async fn call(
    app: &TestApp,
    token: &str,
    method: &str,
    path: &str,
    body: Value,
) -> reqwest::Response {
    app.client
        .request(method.parse().unwrap(), app.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn draft(app: &TestApp, token: &str, owner: &str, slug: &str) {
    let created = call(
        app,
        token,
        "POST",
        "/api/v1/models",
        json!({ "owner": owner, "slug": slug, "name": "Digits", "task": "image-classification",
                "card": "---\nlicense: mit\npipeline_tag: image-classification\n---\n# Digits\n" }),
    )
    .await;
    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
    let version = call(
        app,
        token,
        "POST",
        &format!("/api/v1/models/{owner}/{slug}/versions"),
        json!({ "version": "1.0.0", "changelog": "first" }),
    )
    .await;
    assert_eq!(version.status(), 201);
}

async fn begin(
    app: &TestApp,
    token: &str,
    at: &str,
    path: &str,
    bytes: &[u8],
) -> reqwest::Response {
    call(
        app,
        token,
        "POST",
        &format!("/api/v1/models/{at}/versions/1.0.0/uploads"),
        json!({ "path": path, "size": bytes.len(), "sha256": hex::encode(Sha256::digest(bytes)) }),
    )
    .await
}

async fn patch(
    app: &TestApp,
    token: &str,
    id: &str,
    offset: usize,
    body: reqwest::Body,
) -> reqwest::Response {
    app.client
        .patch(app.url(&format!("/api/v1/uploads/{id}")))
        .bearer_auth(token)
        .header("upload-offset", offset)
        .body(body)
        .send()
        .await
        .unwrap()
}

fn digits_onnx() -> Vec<u8> {
    let seed = concat!(env!("CARGO_MANIFEST_DIR"), "/../seed");
    let path = std::fs::read_dir(seed)
        .unwrap()
        .flat_map(|e| walk(e.unwrap().path()))
        .find(|p| {
            p.extension().is_some_and(|e| e == "onnx") && p.to_string_lossy().contains("digit")
        })
        .expect("the digits seed model");
    std::fs::read(path).unwrap()
}

fn walk(path: std::path::PathBuf) -> Vec<std::path::PathBuf> {
    if path.is_dir() {
        std::fs::read_dir(&path)
            .unwrap()
            .flat_map(|e| walk(e.unwrap().path()))
            .collect()
    } else {
        vec![path]
    }
}

async fn a_publisher_uploads_in_parts_publishes_and_the_page_shows_the_metadata(app: TestApp) {
    let token = app.publisher_token("pub").await;
    draft(&app, &token, "pub", "digits").await;
    let model = digits_onnx();
    let started = begin(&app, &token, "pub/digits", "model.onnx", &model).await;
    assert_eq!(started.status(), 201);
    assert_eq!(started.headers()["upload-offset"], "0");
    let id = started.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let half = model.len() / 2;
    let first = patch(&app, &token, &id, 0, model[..half].to_vec().into()).await;
    assert_eq!(first.status(), 200);
    assert_eq!(first.json::<Value>().await.unwrap()["complete"], false);
    let head = app
        .client
        .head(app.url(&format!("/api/v1/uploads/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(head.headers()["upload-offset"], half.to_string().as_str());
    let wrong = patch(&app, &token, &id, 0, b"again".to_vec().into()).await;
    assert_eq!(wrong.status(), 409);
    assert_eq!(wrong.headers()["upload-offset"], half.to_string().as_str());

    let last = patch(&app, &token, &id, half, model[half..].to_vec().into()).await;
    assert_eq!(last.status(), 200);
    let done: Value = last.json().await.unwrap();
    assert_eq!(done["complete"], true);
    assert_eq!(done["file"]["sha256"], hex::encode(Sha256::digest(&model)));
    assert_eq!(done["file"]["format"], "onnx");
    assert_eq!(done["file"]["metadata"]["parameter_count"], 2411);

    // Not public until published.
    assert_eq!(app.get("/pub/digits").await.status(), 404);
    let published = call(
        &app,
        &token,
        "POST",
        "/api/v1/models/pub/digits/versions/1.0.0/publish",
        json!({}),
    )
    .await;
    assert_eq!(
        published.status(),
        200,
        "{}",
        published.text().await.unwrap()
    );
    let (status, page) = app.get_text("/pub/digits").await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("model.onnx"),
        "the files table lists the upload"
    );
    assert!(page.contains(&hex::encode(Sha256::digest(&model))));

    // The stored object is exactly the bytes sent.
    let stored = domain::catalog::model_detail(&app.state.db, "pub", "digits")
        .await
        .unwrap()
        .unwrap();
    let file = &stored.versions[0].files[0];
    assert_eq!(
        app.state.storage.read_all(&file.object_key).await.unwrap(),
        model
    );
}

async fn an_upload_resumes_from_the_offset_after_the_connection_is_cut(app: TestApp) {
    let token = app.publisher_token("flaky").await;
    draft(&app, &token, "flaky", "big").await;
    // 12 MiB of data: more than one 5 MiB multipart part.
    let bytes: Vec<u8> = (0..12u32 << 20).map(|i| (i % 251) as u8).collect();
    let started = begin(&app, &token, "flaky/big", "weights.bin.txt", &bytes).await;
    let id = started.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // A body that breaks after 7 MiB, as a dropped connection does.
    let sent = 7 << 20;
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = bytes[..sent]
        .chunks(1 << 20)
        .map(|c| Ok(c.to_vec()))
        .chain(std::iter::once(Err(std::io::Error::other("cable pulled"))))
        .collect();
    let cut = app
        .client
        .patch(app.url(&format!("/api/v1/uploads/{id}")))
        .bearer_auth(&token)
        .header("upload-offset", 0)
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await;
    assert!(cut.is_err(), "the request itself failed");

    // The server kept what arrived; ask, then continue from there.
    let mut offset = None;
    for _ in 0..50 {
        let head = app
            .client
            .head(app.url(&format!("/api/v1/uploads/{id}")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        let at: usize = head.headers()["upload-offset"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        if at > 0 {
            offset = Some(at);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let offset = offset.expect("some bytes were kept");
    assert!(offset <= sent, "{offset}");
    let rest = patch(&app, &token, &id, offset, bytes[offset..].to_vec().into()).await;
    assert_eq!(rest.status(), 200, "{}", rest.text().await.unwrap());
    let model = domain::catalog::find_user(&app.state.db, "flaky")
        .await
        .unwrap()
        .unwrap();
    let files = domain::listings::overview(&app.state, &model, "flaky", "big")
        .await
        .unwrap()
        .1;
    let file = &files[0].1[0];
    assert_eq!(file.sha256, hex::encode(Sha256::digest(&bytes)));
    assert_eq!(
        app.state.storage.read_all(&file.object_key).await.unwrap(),
        bytes
    );
}

async fn refused_files_and_paths_never_become_visible(app: TestApp) {
    let token = app.publisher_token("careful").await;
    draft(&app, &token, "careful", "m").await;

    let pickle = begin(&app, &token, "careful/m", "model.pt", b"\x80\x04junk").await;
    assert_eq!(pickle.status(), 422);
    let message = pickle.text().await.unwrap();
    assert!(
        message.contains("safetensors") && message.contains("arbitrary code"),
        "{message}"
    );

    for path in [
        "../../etc/passwd",
        "/abs.txt",
        "a/../../b",
        "con\u{7}trol.txt",
    ] {
        let response = begin(&app, &token, "careful/m", path, b"x").await;
        assert_eq!(response.status(), 422, "{path:?}");
    }

    // A pickle in disguise, and a hostile safetensors header: refused as the bytes arrive.
    let disguised = b"\x80\x05\x95junk pickle payload".to_vec();
    let mut huge = u64::MAX.to_le_bytes().to_vec();
    huge.extend_from_slice(b"{}");
    for (name, bytes) in [
        ("model.safetensors", disguised),
        ("other.safetensors", huge),
    ] {
        let started = begin(&app, &token, "careful/m", name, &bytes).await;
        assert_eq!(started.status(), 201);
        let id = started.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let refused = patch(&app, &token, &id, 0, bytes.clone().into()).await;
        assert_eq!(refused.status(), 422, "{name}");
        let gone = patch(&app, &token, &id, 0, bytes.into()).await;
        assert_eq!(gone.status(), 404, "a refused upload is gone");
    }

    let wrong_hash = call(
        &app,
        &token,
        "POST",
        "/api/v1/models/careful/m/versions/1.0.0/uploads",
        json!({ "path": "notes.txt", "size": 5, "sha256": "0".repeat(64) }),
    )
    .await;
    let id = wrong_hash.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mismatch = patch(&app, &token, &id, 0, b"hello".to_vec().into()).await;
    assert_eq!(mismatch.status(), 422);
    assert!(mismatch.text().await.unwrap().contains("sha256"));

    let user = domain::catalog::find_user(&app.state.db, "careful")
        .await
        .unwrap()
        .unwrap();
    let versions = domain::listings::overview(&app.state, &user, "careful", "m")
        .await
        .unwrap()
        .1;
    assert!(versions[0].1.is_empty(), "no file was recorded");
}

/// Uploads `bytes` as `path` into `at`'s draft 1.0.0 in one request.
async fn upload_whole(app: &TestApp, token: &str, at: &str, path: &str, bytes: &[u8]) {
    let started = begin(app, token, at, path, bytes).await;
    assert_eq!(started.status(), 201, "{path}");
    let id = started.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let done = patch(app, token, &id, 0, bytes.to_vec().into()).await;
    assert_eq!(done.status(), 200, "{}", done.text().await.unwrap());
}

async fn a_new_request_takes_over_from_a_stalled_one(app: TestApp) {
    let token = app.publisher_token("stall").await;
    draft(&app, &token, "stall", "big").await;
    let bytes: Vec<u8> = (0..3u32 << 20).map(|i| (i % 241) as u8).collect();
    let started = begin(&app, &token, "stall/big", "weights.txt", &bytes).await;
    let id = started.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // A connection that sent 1 MiB and then went silent, as a half-open one does.
    let first: Result<Vec<u8>, std::io::Error> = Ok(bytes[..1 << 20].to_vec());
    let silent =
        futures::StreamExt::chain(futures::stream::iter([first]), futures::stream::pending());
    let stalled = tokio::spawn({
        let request = app
            .client
            .patch(app.url(&format!("/api/v1/uploads/{id}")))
            .bearer_auth(&token)
            .header("upload-offset", 0)
            .body(reqwest::Body::wrap_stream(silent));
        async move { request.send().await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;

    // The client comes back (new connection, or a reloaded page) with what it last knew:
    // the new request takes over at once and learns where the upload really stands.
    let asked = std::time::Instant::now();
    // (A small body: the refusal comes before the body is read, and a large one still being
    // sent could see the connection close before it reads the answer.)
    let behind = patch(&app, &token, &id, 0, bytes[..1024].to_vec().into()).await;
    assert!(asked.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(behind.status(), 409);
    let at: usize = behind.headers()["upload-offset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(at, 1 << 20);
    let done = patch(&app, &token, &id, at, bytes[at..].to_vec().into()).await;
    assert_eq!(done.status(), 200);
    let done: Value = done.json().await.unwrap();
    assert_eq!(done["file"]["sha256"], hex::encode(Sha256::digest(&bytes)));
    stalled.abort();
}

async fn the_cards_demo_file_is_public_and_a_deleted_listing_is_purged(app: TestApp) {
    let token = app.publisher_token("maker").await;
    let card = "---\nlicense: mit\ndemo:\n  file: model.onnx\n  task: image-classification\n---\n# Digits\n";
    let created = call(
        &app,
        &token,
        "POST",
        "/api/v1/models",
        json!({ "slug": "digits", "name": "Digits", "task": "image-classification", "card": card }),
    )
    .await;
    assert_eq!(created.status(), 201);
    let version = call(
        &app,
        &token,
        "POST",
        "/api/v1/models/maker/digits/versions",
        json!({ "version": "1.0.0" }),
    )
    .await;
    assert_eq!(version.status(), 201);
    let publish = || {
        call(
            &app,
            &token,
            "POST",
            "/api/v1/models/maker/digits/versions/1.0.0/publish",
            json!({}),
        )
    };

    // The card names a demo file the version lacks: publishing says so.
    upload_whole(&app, &token, "maker/digits", "notes.txt", b"notes").await;
    let refused = publish().await;
    assert_eq!(refused.status(), 409);
    assert!(refused
        .text()
        .await
        .unwrap()
        .contains("demo names 'model.onnx'"));

    upload_whole(&app, &token, "maker/digits", "model.onnx", &digits_onnx()).await;
    assert_eq!(publish().await.status(), 200);
    let shown: Value = call(
        &app,
        &token,
        "GET",
        "/api/v1/models/maker/digits",
        json!({}),
    )
    .await
    .json()
    .await
    .unwrap();
    let demo_flags: Vec<(String, bool)> = shown["versions"][0]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_owned(),
                f["demo"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        demo_flags,
        [
            ("model.onnx".to_owned(), true),
            ("notes.txt".to_owned(), false)
        ]
    );

    // Without a license offer, visitors get the demo file only; the publisher gets all.
    let files = "/api/v1/models/maker/digits/versions/1.0.0/files";
    assert_eq!(app.get(&format!("{files}/model.onnx")).await.status(), 200);
    assert_eq!(app.get(&format!("{files}/notes.txt")).await.status(), 403);
    let own = app
        .client
        .get(app.url(&format!("{files}/notes.txt")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200);
    assert_eq!(own.headers()[header::CACHE_CONTROL], "private, no-store");
    assert_eq!(own.bytes().await.unwrap().as_ref(), b"notes");

    // Deleted: gone from every page and download at once, files kept for the admin.
    let keys: Vec<String> = domain::catalog::model_detail(&app.state.db, "maker", "digits")
        .await
        .unwrap()
        .unwrap()
        .versions[0]
        .files
        .iter()
        .map(|f| f.object_key.clone())
        .collect();
    let deleted = call(
        &app,
        &token,
        "DELETE",
        "/api/v1/models/maker/digits",
        json!({}),
    )
    .await;
    assert_eq!(deleted.status(), 204);
    assert_eq!(app.get("/maker/digits").await.status(), 404);
    assert_eq!(app.get(&format!("{files}/model.onnx")).await.status(), 404);
    for key in &keys {
        assert!(app.state.storage.read_all(key).await.is_ok());
    }

    let admin = app.sign_up("root").await;
    common::make_admin(&app, "root").await;
    let listed = app
        .post_form("/api/deleted_listings", "", Some(&admin))
        .await;
    let listed: Value = listed.json().await.unwrap();
    let row = &listed[0];
    assert_eq!(row["slug"], "digits");
    assert_eq!(row["files"], 2);
    let purge = format!("id={}&confirm=maker%2Fdigits", row["id"]);
    let stranger = app.sign_up("stranger").await;
    let refused = app
        .post_form("/api/purge_listing", &purge, Some(&stranger))
        .await;
    assert_eq!(refused.status(), 404, "to a stranger it does not exist");
    let purged = app
        .post_form("/api/purge_listing", &purge, Some(&admin))
        .await;
    assert!(purged.status().is_success(), "{}", purged.status());
    let audit: Vec<Value> = app
        .post_form("/api/audit_log", "", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    let purge_row = audit
        .iter()
        .find(|r| r["action"] == "listing_purge")
        .expect("the purge is audited");
    assert_eq!(
        (&purge_row["actor"], &purge_row["actor_kind"]),
        (&json!("root"), &json!("admin")),
        "the admin who purged, acting as admin"
    );
    for key in &keys {
        assert!(
            app.state.storage.read_all(key).await.is_err(),
            "{key} remains"
        );
    }
    let listed: Value = app
        .post_form("/api/deleted_listings", "", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed, json!([]));
    let root = domain::catalog::find_user(&app.state.db, "root")
        .await
        .unwrap()
        .unwrap();
    let audit = domain::audit::recent(&app.state.db, &root, None, 10)
        .await
        .unwrap();
    assert!(audit.iter().any(|e| e.action == "listing_purge"));
}

async fn a_published_version_refuses_changes_and_others_cannot_publish_here(app: TestApp) {
    let token = app.publisher_token("owner").await;
    let intruder = app.publisher_token("intruder").await;
    draft(&app, &token, "owner", "m").await;
    let early = call(
        &app,
        &token,
        "POST",
        "/api/v1/models/owner/m/versions/1.0.0/publish",
        json!({}),
    )
    .await;
    assert_eq!(early.status(), 409, "a version needs files");

    let readme = b"# hello\n";
    let started = begin(&app, &token, "owner/m", "README.md", readme).await;
    let id = started.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        patch(&app, &token, &id, 0, readme.to_vec().into())
            .await
            .status(),
        200
    );

    // Someone else can neither see the draft nor upload into it.
    let sneaky = begin(&app, &intruder, "owner/m", "evil.txt", b"x").await;
    assert_eq!(sneaky.status(), 404);
    let steal = patch(&app, &intruder, &id, 0, b"x".to_vec().into()).await;
    assert_eq!(steal.status(), 404);

    let published = call(
        &app,
        &token,
        "POST",
        "/api/v1/models/owner/m/versions/1.0.0/publish",
        json!({}),
    )
    .await;
    assert_eq!(published.status(), 200);
    let late = begin(&app, &token, "owner/m", "late.txt", b"late").await;
    assert_eq!(late.status(), 409);
    assert!(late.text().await.unwrap().contains("published"));
    let sneaky = begin(&app, &intruder, "owner/m", "evil.txt", b"x").await;
    assert_eq!(
        sneaky.status(),
        403,
        "a published listing is visible, but not theirs"
    );

    let oversize = call(
        &app,
        &token,
        "POST",
        "/api/v1/models/owner/m/versions",
        json!({ "version": "2.0.0" }),
    )
    .await;
    assert_eq!(oversize.status(), 201);
    let too_big = call(
        &app,
        &token,
        "POST",
        "/api/v1/models/owner/m/versions/2.0.0/uploads",
        json!({ "path": "huge.safetensors", "size": 60u64 << 30 }),
    )
    .await;
    assert_eq!(too_big.status(), 413, "refused before any byte is stored");

    let read_only = {
        let cookie = common::session_cookie_of(&app.log_in("owner", common::PASSWORD).await);
        let created = app
            .post_form("/api/create_token", "name=ro&scope=read", Some(&cookie))
            .await;
        created.json::<Value>().await.unwrap()["secret"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let denied = begin(&app, &read_only, "owner/m", "x.txt", b"x").await;
    assert_eq!(denied.status(), 403, "a read token cannot upload");
    let _ = header::CONTENT_TYPE;
}

/// The same upload flows with S3 (moto on loopback) as the object store: a resumed upload
/// completes into one object under the prefix; a refused one leaves no object and no
/// unfinished multipart upload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_s3_uploads_resume_complete_and_refusals_leave_nothing() {
    let Some(moto) = moto::shared() else {
        eprintln!("skipped: moto_server not found (run scripts/setup.sh)");
        return;
    };
    let bucket = moto.create_bucket();
    for (key, value) in [
        ("AWS_ENDPOINT", moto.endpoint()),
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ALLOW_HTTP", "true".to_owned()),
    ] {
        std::env::set_var(key, value);
    }
    let app = common::spawn_app_with(common::Db::Sqlite, |config| {
        config.storage_url = Some(format!("s3://{bucket}/bazaar"));
    })
    .await
    .unwrap();
    let token = app.publisher_token("s3pub").await;
    draft(&app, &token, "s3pub", "big").await;
    let bytes: Vec<u8> = (0..11u32 << 20).map(|i| (i % 241) as u8).collect();
    let started = begin(&app, &token, "s3pub/big", "data.txt", &bytes).await;
    let id = started.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let first = patch(&app, &token, &id, 0, bytes[..6 << 20].to_vec().into()).await;
    assert_eq!(first.status(), 200);
    let rest = patch(&app, &token, &id, 6 << 20, bytes[6 << 20..].to_vec().into()).await;
    assert_eq!(rest.status(), 200, "{}", rest.text().await.unwrap());

    let user = domain::catalog::find_user(&app.state.db, "s3pub")
        .await
        .unwrap()
        .unwrap();
    let files = domain::listings::overview(&app.state, &user, "s3pub", "big")
        .await
        .unwrap()
        .1;
    let file = &files[0].1[0];
    assert_eq!(file.sha256, hex::encode(Sha256::digest(&bytes)));
    assert_eq!(
        app.state.storage.read_all(&file.object_key).await.unwrap(),
        bytes
    );
    let keys = moto.keys(&bucket);
    assert!(
        keys.contains(&format!("bazaar/{}", file.object_key)),
        "the object is in the bucket under the prefix: {keys:?}"
    );

    let before = moto.keys(&bucket).len();
    let mut hostile = u64::MAX.to_le_bytes().to_vec();
    hostile.extend_from_slice(&[0u8; 7 << 20]);
    let started = begin(&app, &token, "s3pub/big", "w.safetensors", &hostile).await;
    let id = started.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let refused = patch(&app, &token, &id, 0, hostile.into()).await;
    assert_eq!(refused.status(), 422);
    assert_eq!(moto.keys(&bucket).len(), before, "no object was written");
    assert!(
        moto.unfinished_uploads(&bucket).is_empty(),
        "the multipart upload was aborted"
    );
}

async fn upload_id(response: reqwest::Response) -> String {
    assert_eq!(response.status(), 201);
    response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn object_key_of(app: &TestApp, id: &str) -> String {
    use sea_orm::EntityTrait;
    domain::entities::upload::Entity::find_by_id(id.to_owned())
        .one(&app.state.db)
        .await
        .unwrap()
        .expect("the upload is recorded")
        .object_key
}

/// Neither the upload, nor a file row, nor an object, nor a staging file of `key` remains.
async fn assert_nothing_left(app: &TestApp, id: &str, key: &str) {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let upload = domain::entities::upload::Entity::find_by_id(id.to_owned())
        .one(&app.state.db)
        .await
        .unwrap();
    assert!(upload.is_none(), "the upload row remains");
    let files = domain::entities::file::Entity::find()
        .filter(domain::entities::file::Column::ObjectKey.eq(key))
        .all(&app.state.db)
        .await
        .unwrap();
    assert!(files.is_empty(), "a file row points at {key}");
    assert!(
        app.state.storage.read_all(key).await.is_err(),
        "{key} is stored"
    );
    let path = app.data_dir.join("objects").join(key);
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let left: Vec<String> = std::fs::read_dir(path.parent().unwrap())
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(&name))
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "staging files remain: {left:?}");
}

/// The paths of `owner/slug`'s version 1.0.0 as its publisher sees them.
async fn file_paths(app: &TestApp, token: &str, at: &str) -> Vec<String> {
    let shown: Value = call(
        app,
        token,
        "GET",
        &format!("/api/v1/models/{at}"),
        json!({}),
    )
    .await
    .json()
    .await
    .unwrap();
    shown["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["version"] == "1.0.0")
        .unwrap()["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_owned())
        .collect()
}

/// 6 MiB: more than one 5 MiB part, so part of it is written to storage before the end.
fn six_mib() -> Vec<u8> {
    (0..6u32 << 20).map(|i| (i % 239) as u8).collect()
}

async fn a_late_upload_into_a_version_published_meanwhile_is_refused_and_leaves_nothing(
    app: TestApp,
) {
    let token = app.publisher_token("late").await;
    draft(&app, &token, "late", "m").await;
    upload_whole(&app, &token, "late/m", "README.md", b"# readme\n").await;
    let bytes = six_mib();
    let id = upload_id(begin(&app, &token, "late/m", "late.txt", &bytes).await).await;
    let key = object_key_of(&app, &id).await;
    let first = (5 << 20) + 1;
    let sent = patch(&app, &token, &id, 0, bytes[..first].to_vec().into()).await;
    assert_eq!(sent.status(), 200);

    let published = call(
        &app,
        &token,
        "POST",
        "/api/v1/models/late/m/versions/1.0.0/publish",
        json!({}),
    )
    .await;
    assert_eq!(published.status(), 200);
    let rest = patch(&app, &token, &id, first, bytes[first..].to_vec().into()).await;
    assert_eq!(rest.status(), 409);
    let message = rest.text().await.unwrap();
    assert!(message.contains("published"), "{message}");
    assert_nothing_left(&app, &id, &key).await;
    assert_eq!(file_paths(&app, &token, "late/m").await, ["README.md"]);
    let again = patch(&app, &token, &id, first, bytes[first..].to_vec().into()).await;
    assert_eq!(again.status(), 404, "the refused upload is gone");
}

async fn a_late_upload_into_a_deleted_listing_is_refused_and_leaves_nothing(app: TestApp) {
    let token = app.publisher_token("gone").await;
    draft(&app, &token, "gone", "m").await;
    let bytes = six_mib();
    let id = upload_id(begin(&app, &token, "gone/m", "weights.txt", &bytes).await).await;
    let key = object_key_of(&app, &id).await;
    let first = (5 << 20) + 1;
    let sent = patch(&app, &token, &id, 0, bytes[..first].to_vec().into()).await;
    assert_eq!(sent.status(), 200);

    let deleted = call(&app, &token, "DELETE", "/api/v1/models/gone/m", json!({})).await;
    assert_eq!(deleted.status(), 204);
    let rest = patch(&app, &token, &id, first, bytes[first..].to_vec().into()).await;
    assert_eq!(rest.status(), 404, "{}", rest.text().await.unwrap());
    assert_nothing_left(&app, &id, &key).await;
}

async fn a_member_removed_from_the_organization_mid_upload_cannot_complete(app: TestApp) {
    use domain::orgs::{self, Role};
    let boss_token = app.publisher_token("boss").await;
    let worker_token = app.publisher_token("worker").await;
    let boss = domain::catalog::find_user(&app.state.db, "boss")
        .await
        .unwrap()
        .unwrap();
    let worker = domain::catalog::find_user(&app.state.db, "worker")
        .await
        .unwrap()
        .unwrap();
    let org = orgs::create(&app.state.db, &boss, "lab", "The Lab", "127.0.0.1")
        .await
        .unwrap();
    orgs::invite(&app.state, &boss, &org, "worker", Role::Admin, "127.0.0.1")
        .await
        .unwrap();
    orgs::accept(&app.state.db, &worker, &org, "127.0.0.1")
        .await
        .unwrap();
    draft(&app, &worker_token, "lab", "m").await;
    let _ = &boss_token;

    let bytes = b"weights that arrive late".to_vec();
    let id = upload_id(begin(&app, &worker_token, "lab/m", "w.txt", &bytes).await).await;
    let key = object_key_of(&app, &id).await;
    let half = patch(&app, &worker_token, &id, 0, bytes[..10].to_vec().into()).await;
    assert_eq!(half.status(), 200);
    orgs::remove_member(&app.state.db, &boss, &org, "worker", "127.0.0.1")
        .await
        .unwrap();
    let rest = patch(&app, &worker_token, &id, 10, bytes[10..].to_vec().into()).await;
    assert_eq!(rest.status(), 403);
    let message = rest.text().await.unwrap();
    assert!(message.contains("lab"), "{message}");
    assert_nothing_left(&app, &id, &key).await;

    // A token revoked mid-upload cannot finish it either.
    orgs::invite(&app.state, &boss, &org, "worker", Role::Admin, "127.0.0.1")
        .await
        .unwrap();
    orgs::accept(&app.state.db, &worker, &org, "127.0.0.1")
        .await
        .unwrap();
    let id = upload_id(begin(&app, &worker_token, "lab/m", "w.txt", &bytes).await).await;
    let half = patch(&app, &worker_token, &id, 0, bytes[..10].to_vec().into()).await;
    assert_eq!(half.status(), 200);
    let tokens: Value = call(&app, &worker_token, "GET", "/api/v1/tokens", json!({}))
        .await
        .json()
        .await
        .unwrap();
    let token_id = tokens
        .as_array()
        .and_then(|t| t.first())
        .map(|t| t["id"].clone())
        .unwrap_or_else(|| tokens["tokens"][0]["id"].clone());
    let revoked = call(
        &app,
        &worker_token,
        "DELETE",
        &format!("/api/v1/tokens/{token_id}"),
        json!({}),
    )
    .await;
    assert_eq!(revoked.status(), 204);
    let rest = patch(&app, &worker_token, &id, 10, bytes[10..].to_vec().into()).await;
    assert_eq!(rest.status(), 401);
    let user = domain::catalog::find_user(&app.state.db, "boss")
        .await
        .unwrap()
        .unwrap();
    let versions = domain::listings::overview(&app.state, &user, "lab", "m")
        .await
        .unwrap()
        .1;
    assert!(versions[0].1.is_empty(), "no file was recorded");
}

async fn the_database_refuses_to_change_a_published_version(app: TestApp) {
    use sea_orm::ConnectionTrait;
    let token = app.publisher_token("frozen").await;
    draft(&app, &token, "frozen", "m").await;
    upload_whole(&app, &token, "frozen/m", "README.md", b"# frozen\n").await;
    let published = call(
        &app,
        &token,
        "POST",
        "/api/v1/models/frozen/m/versions/1.0.0/publish",
        json!({}),
    )
    .await;
    assert_eq!(published.status(), 200);
    let detail = domain::catalog::model_detail(&app.state.db, "frozen", "m")
        .await
        .unwrap()
        .unwrap();
    let version_id = detail.versions[0].version.id;
    let zeros = "0".repeat(64);
    let insert = |version: i64, key: &str| {
        format!(
            "INSERT INTO files (version_id, path, object_key, size, sha256, format, is_demo, \
             created_at) VALUES ({version}, 'evil.txt', '{key}', 1, '{zeros}', 'plain', false, \
             CURRENT_TIMESTAMP)"
        )
    };
    let db = &app.state.db;
    for attack in [
        insert(version_id, "objects/evil"),
        format!("DELETE FROM files WHERE version_id = {version_id}"),
        format!("UPDATE files SET size = size + 1 WHERE version_id = {version_id}"),
        format!("UPDATE files SET version_id = version_id WHERE version_id = {version_id}"),
        format!("UPDATE model_versions SET published_at = NULL WHERE id = {version_id}"),
        format!("UPDATE model_versions SET version = '9.9.9' WHERE id = {version_id}"),
        format!("DELETE FROM model_versions WHERE id = {version_id}"),
    ] {
        let err = db
            .execute_unprepared(&attack)
            .await
            .expect_err(&format!("the database allowed: {attack}"));
        assert!(
            err.to_string().contains("published and immutable"),
            "{attack}: {err}"
        );
    }
    let after = domain::catalog::model_detail(db, "frozen", "m")
        .await
        .unwrap()
        .unwrap();
    let files: Vec<&str> = after.versions[0]
        .files
        .iter()
        .map(|f| f.path.as_str())
        .collect();
    assert_eq!(files, ["README.md"]);

    // A draft is not frozen: the same insert goes in.
    let draft_version = call(
        &app,
        &token,
        "POST",
        "/api/v1/models/frozen/m/versions",
        json!({ "version": "2.0.0" }),
    )
    .await;
    assert_eq!(draft_version.status(), 201);
    let draft_id: i64 = {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        domain::entities::model_version::Entity::find()
            .filter(domain::entities::model_version::Column::Version.eq("2.0.0"))
            .one(db)
            .await
            .unwrap()
            .unwrap()
            .id
    };
    db.execute_unprepared(&insert(draft_id, "objects/draft"))
        .await
        .unwrap();
}

async fn owners_have_a_storage_quota_and_a_limit_on_unfinished_uploads(app: TestApp) {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set};
    let token = app.publisher_token("quota").await;
    draft(&app, &token, "quota", "m").await;
    let declare = |path: &'static str, size: u64| {
        call(
            &app,
            &token,
            "POST",
            "/api/v1/models/quota/m/versions/1.0.0/uploads",
            json!({ "path": path, "size": size }),
        )
    };
    // 1 MiB quota: 700 KiB stored...
    let stored = vec![b'a'; 700 << 10];
    upload_whole(&app, &token, "quota/m", "stored.txt", &stored).await;
    // ...so 400 KiB more does not fit, and the answer says what is used.
    let over = declare("big.txt", 400 << 10).await;
    assert_eq!(over.status(), 413);
    let message = over.text().await.unwrap();
    assert!(
        message.contains("quota of 1048576 bytes") && message.contains("716800 bytes"),
        "{message}"
    );
    // Unfinished uploads count with their declared size.
    let first = upload_id(declare("a.txt", 200 << 10).await).await;
    let over = declare("b.txt", 200 << 10).await;
    assert_eq!(over.status(), 413, "700 + 200 + 200 KiB is over 1 MiB");

    // At most two unfinished uploads per owner, whatever their size.
    let second = upload_id(declare("c.txt", 1).await).await;
    let third = declare("d.txt", 1).await;
    assert_eq!(third.status(), 429);
    let message = third.text().await.unwrap();
    assert!(message.contains("the limit is 2"), "{message}");
    let cancelled = call(
        &app,
        &token,
        "DELETE",
        &format!("/api/v1/uploads/{second}"),
        json!({}),
    )
    .await;
    assert_eq!(cancelled.status(), 204);
    let _fourth = upload_id(declare("d.txt", 1).await).await;

    // The quota is checked again when an upload completes: lowered meanwhile, it refuses.
    let owner = domain::catalog::find_user(&app.state.db, "quota")
        .await
        .unwrap()
        .unwrap();
    let mut row: domain::entities::user::ActiveModel = owner.clone().into();
    row.storage_quota_bytes = Set(Some(800 << 10));
    row.update(&app.state.db).await.unwrap();
    let key = object_key_of(&app, &first).await;
    let refused = patch(&app, &token, &first, 0, vec![b'b'; 200 << 10].into()).await;
    assert_eq!(refused.status(), 413);
    assert!(refused
        .text()
        .await
        .unwrap()
        .contains("quota of 819200 bytes"));
    assert_nothing_left(&app, &first, &key).await;

    // An owner's own quota overrides the default the other way too.
    let mut row: domain::entities::user::ActiveModel = owner.into();
    row.storage_quota_bytes = Set(Some(10 << 20));
    row.update(&app.state.db).await.unwrap();
    let bigger = vec![b'c'; 2 << 20];
    upload_whole(&app, &token, "quota/m", "bigger.txt", &bigger).await;
}

async fn a_publisher_whose_publishing_was_turned_off_mid_upload_cannot_complete(app: TestApp) {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set};
    let token = app.publisher_token("lapsed").await;
    draft(&app, &token, "lapsed", "m").await;
    let bytes = b"half now, half later".to_vec();
    let id = upload_id(begin(&app, &token, "lapsed/m", "w.txt", &bytes).await).await;
    let key = object_key_of(&app, &id).await;
    let half = patch(&app, &token, &id, 0, bytes[..10].to_vec().into()).await;
    assert_eq!(half.status(), 200);
    let user = domain::catalog::find_user(&app.state.db, "lapsed")
        .await
        .unwrap()
        .unwrap();
    let mut row: domain::entities::user::ActiveModel = user.into();
    row.is_publisher = Set(false);
    row.update(&app.state.db).await.unwrap();
    let rest = patch(&app, &token, &id, 10, bytes[10..].to_vec().into()).await;
    assert_eq!(rest.status(), 403);
    assert!(rest.text().await.unwrap().contains("no longer publish"));
    assert_nothing_left(&app, &id, &key).await;
}

/// The same, within one request: publishing is turned off after the request was let in and
/// before its last byte arrives.
async fn rights_taken_away_while_the_last_bytes_stream_in_still_count(app: TestApp) {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set};
    let token = app.publisher_token("streamer").await;
    draft(&app, &token, "streamer", "m").await;
    let bytes = b"half now, half later".to_vec();
    let id = upload_id(begin(&app, &token, "streamer/m", "w.txt", &bytes).await).await;
    let key = object_key_of(&app, &id).await;
    let (send, body) = futures::channel::mpsc::unbounded::<Result<Vec<u8>, std::io::Error>>();
    let patching = patch(&app, &token, &id, 0, reqwest::Body::wrap_stream(body));
    let feeding = async {
        send.unbounded_send(Ok(bytes[..10].to_vec())).unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let user = domain::catalog::find_user(&app.state.db, "streamer")
            .await
            .unwrap()
            .unwrap();
        let mut row: domain::entities::user::ActiveModel = user.into();
        row.is_publisher = Set(false);
        row.update(&app.state.db).await.unwrap();
        send.unbounded_send(Ok(bytes[10..].to_vec())).unwrap();
        send.close_channel();
    };
    let (answer, ()) = tokio::join!(patching, feeding);
    assert_eq!(answer.status(), 403);
    assert!(answer.text().await.unwrap().contains("no longer publish"));
    assert_nothing_left(&app, &id, &key).await;
}

async fn parallel_declarations_cannot_exceed_the_owners_limits(app: TestApp) {
    let token = app.publisher_token("rush").await;
    draft(&app, &token, "rush", "m").await;
    let declare = |i: usize, size: u64| {
        call(
            &app,
            &token,
            "POST",
            "/api/v1/models/rush/m/versions/1.0.0/uploads",
            json!({ "path": format!("f{i}.txt"), "size": size }),
        )
    };
    // Ten at once against a limit of three unfinished uploads: exactly three get in.
    let answers = futures::future::join_all((0..10).map(|i| declare(i, 1))).await;
    let mut statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
    statuses.sort();
    assert_eq!(statuses, [201, 201, 201, 429, 429, 429, 429, 429, 429, 429]);
    for answer in answers {
        if answer.status() == 201 {
            let id = upload_id(answer).await;
            let cancelled = call(
                &app,
                &token,
                "DELETE",
                &format!("/api/v1/uploads/{id}"),
                json!({}),
            )
            .await;
            assert_eq!(cancelled.status(), 204);
        }
    }
    // Three at once of 4 MiB against a 10 MiB quota: two fit, the third would not.
    let answers = futures::future::join_all((10..13).map(|i| declare(i, 4 << 20))).await;
    let mut statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
    statuses.sort();
    assert_eq!(statuses, [201, 201, 413]);
}

/// Files reach a version the same way from the browser and from `bazaar push` (this upload
/// API); publishing makes a README.md among them the card, and its `demo:` block the demo.
async fn an_uploaded_readme_becomes_the_card_and_names_the_demo(app: TestApp) {
    let token = app.publisher_token("carder").await;
    draft(&app, &token, "carder", "digits").await;
    let readme = "---\nlicense: apache-2.0\ndemo:\n  file: model.onnx\n  task: image-classification\n---\n# Digits, from the README\n";
    upload_whole(
        &app,
        &token,
        "carder/digits",
        "README.md",
        readme.as_bytes(),
    )
    .await;
    upload_whole(&app, &token, "carder/digits", "model.onnx", &digits_onnx()).await;
    let published = call(
        &app,
        &token,
        "POST",
        "/api/v1/models/carder/digits/versions/1.0.0/publish",
        json!({}),
    )
    .await;
    assert_eq!(
        published.status(),
        200,
        "{}",
        published.text().await.unwrap()
    );

    let (status, html) = app.get_text("/carder/digits").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("Digits, from the README"),
        "the README is the card"
    );
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let listing = domain::entities::model::Entity::find()
        .filter(domain::entities::model::Column::Slug.eq("digits"))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(listing.card, readme);
    // Anyone may download the demo file the README named.
    let files = "/api/v1/models/carder/digits/versions/1.0.0/files";
    assert_eq!(app.get(&format!("{files}/model.onnx")).await.status(), 200);
    assert_eq!(app.get(&format!("{files}/README.md")).await.status(), 403);
}

async fn a_paid_models_demo_must_differ_from_what_it_sells(app: TestApp) {
    let token = app.publisher_token("seller").await;
    let card = "---\nlicense: other\ndemo:\n  file: demo.onnx\n  task: image-classification\n---\n# Digits\n";
    let created = call(
        &app,
        &token,
        "POST",
        "/api/v1/models",
        json!({ "slug": "digits", "name": "Digits", "task": "image-classification", "card": card }),
    )
    .await;
    assert_eq!(created.status(), 201);
    let (owner, listing) = domain::listings::find_listing(&app.state, "seller", "digits")
        .await
        .unwrap();
    assert_eq!(owner.username, "seller");
    let paid = domain::licensing::offers::OfferInput {
        kind: "paid",
        price: Some("9"),
        ..Default::default()
    };
    let terms = domain::licensing::offers::check(&paid, true).unwrap();
    domain::licensing::offers::add(&app.state.db, listing.id, &terms, "")
        .await
        .unwrap();
    let version = call(
        &app,
        &token,
        "POST",
        "/api/v1/models/seller/digits/versions",
        json!({ "version": "1.0.0" }),
    )
    .await;
    assert_eq!(version.status(), 201);
    upload_whole(&app, &token, "seller/digits", "demo.onnx", &digits_onnx()).await;
    upload_whole(
        &app,
        &token,
        "seller/digits",
        "weights.onnx",
        &digits_onnx(),
    )
    .await;
    let refused = call(
        &app,
        &token,
        "POST",
        "/api/v1/models/seller/digits/versions/1.0.0/publish",
        json!({}),
    )
    .await;
    assert_eq!(refused.status(), 409);
    let message = refused.text().await.unwrap();
    assert!(
        message.contains("byte-identical to 'weights.onnx'"),
        "{message}"
    );
}
