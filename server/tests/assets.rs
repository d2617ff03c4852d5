//! Static assets: the hashed hydration bundle is cached forever and served compressed.
mod common;

use common::{spawn_app, Db};
use http::header;

#[tokio::test]
async fn wasm_is_served_compressed_as_application_wasm_and_cached_forever() {
    let app = spawn_app(Db::Sqlite).await.unwrap();
    let response = app
        .client
        .get(app.url("/pkg/0123abcd/bazaar_bg.wasm"))
        .header(header::ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers();
    assert_eq!(headers[header::CONTENT_TYPE], "application/wasm");
    assert_eq!(headers[header::CONTENT_ENCODING], "gzip");
    assert!(headers[header::CACHE_CONTROL]
        .to_str()
        .unwrap()
        .contains("immutable"));
}

#[tokio::test]
async fn pages_reference_the_hashed_bundle() {
    let app = spawn_app(Db::Sqlite).await.unwrap();
    let (_, html) = app.get_text("/").await;
    assert!(html.contains("/pkg/0123abcd/bazaar.css"), "stylesheet link");
    assert!(
        html.contains("/pkg/0123abcd/bazaar_bg.wasm"),
        "wasm preload"
    );
}

#[tokio::test]
async fn html_is_compressed_and_public_files_are_served() {
    let app = spawn_app(Db::Sqlite).await.unwrap();
    let response = app
        .client
        .get(app.url("/"))
        .header(header::ACCEPT_ENCODING, "br")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()[header::CONTENT_ENCODING], "br");
    assert_eq!(
        response.headers()[header::X_CONTENT_TYPE_OPTIONS],
        "nosniff"
    );
    let favicon = app.get("/favicon.svg").await;
    assert_eq!(favicon.status(), 200);
    assert_eq!(favicon.headers()[header::CONTENT_TYPE], "image/svg+xml");
}
