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
    a_new_request_takes_over_from_a_stalled_one,
);

/// A publisher with a write token: `(cookie, token)`.
async fn publisher(app: &TestApp, name: &str) -> String {
    let cookie = app.sign_up(name).await;
    let enabled = app
        .post_form("/api/enable_publishing", "", Some(&cookie))
        .await;
    assert_eq!(enabled.status(), 200);
    let created = app
        .post_form("/api/create_token", "name=push&scope=write", Some(&cookie))
        .await;
    let created: Value = created.json().await.unwrap();
    created["secret"].as_str().unwrap().to_owned()
}

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
        json!({ "slug": slug, "name": "Digits", "task": "image-classification",
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
    let token = publisher(&app, "pub").await;
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
    let token = publisher(&app, "flaky").await;
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
    let token = publisher(&app, "careful").await;
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
    let token = publisher(&app, "stall").await;
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
    let token = publisher(&app, "maker").await;
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

    // Without a licence offer, visitors get the demo file only; the publisher gets all.
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
    let purge = format!("id={}", row["id"]);
    let stranger = app.sign_up("stranger").await;
    let refused = app
        .post_form("/api/purge_listing", &purge, Some(&stranger))
        .await;
    assert_eq!(refused.status(), 403);
    let purged = app
        .post_form("/api/purge_listing", &purge, Some(&admin))
        .await;
    assert!(purged.status().is_success(), "{}", purged.status());
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
    let token = publisher(&app, "owner").await;
    let intruder = publisher(&app, "intruder").await;
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
    let token = publisher(&app, "s3pub").await;
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
