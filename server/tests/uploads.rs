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
