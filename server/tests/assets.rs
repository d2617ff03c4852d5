//! Static assets: the hashed hydration bundle is cached forever and served compressed.
mod common;

use common::{spawn_app, Auth, Db};
use http::header;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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

/// The lazily loaded page modules and their loader live beside the main module and are served
/// like it: their own types, precompressed, cached forever (their directory's name changes with
/// their content).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lazy_modules_and_their_loader_are_served_like_the_main_module() {
    let app = spawn_app(Db::Sqlite).await.unwrap();
    for (file, content_type) in [
        ("split_account_pages_42.wasm", "application/wasm"),
        ("__wasm_split.______________________.js", "text/javascript"),
    ] {
        let response = app
            .client
            .get(app.url(&format!("/pkg/0123abcd/{file}")))
            .header(header::ACCEPT_ENCODING, "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{file}");
        let headers = response.headers();
        assert_eq!(headers[header::CONTENT_TYPE], content_type, "{file}");
        assert_eq!(headers[header::CONTENT_ENCODING], "gzip", "{file}");
        assert!(
            headers[header::CACHE_CONTROL]
                .to_str()
                .unwrap()
                .contains("immutable"),
            "{file}"
        );
    }
}

/// A lazy page's modules are named in its `<head>` on every render, however many render at
/// once; a visitor's page names none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lazy_page_names_its_modules_for_preloading_on_every_render() {
    let app = spawn_app(Db::Sqlite).await.unwrap();
    let cookie = app.sign_up("preloader").await;
    let renders = (0..12).map(|_| async {
        let response = app.api_get("/settings", Auth::Cookie(&cookie)).await;
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    });
    for html in futures::future::join_all(renders).await {
        let head = &html[..html.find("</head>").expect("a head")];
        // The `<link>` naming `href`, whatever the order of its attributes.
        let link = |href: &str| {
            head.split("<link ")
                .skip(1)
                .map(|tag| &tag[..tag.find('>').unwrap_or(tag.len())])
                .find(|tag| tag.contains(&format!("href=\"/pkg/0123abcd/{href}\"")))
                .unwrap_or_else(|| panic!("{href} is not preloaded: {head}"))
                .to_owned()
        };
        for module in ["split_account_pages_42.wasm", "chunk_1.wasm"] {
            let tag = link(module);
            for attribute in [
                r#"rel="preload""#,
                r#"as="fetch""#,
                r#"type="application/wasm""#,
                r#"crossorigin="anonymous""#,
            ] {
                assert!(tag.contains(attribute), "{attribute} in {tag}");
            }
        }
        let loader = link("__wasm_split.______________________.js");
        assert!(loader.contains(r#"rel="modulepreload""#), "{loader}");
    }
    let (_, home) = app.get_text("/").await;
    assert!(
        !home.contains("split_"),
        "a visitor's page preloads no lazy module"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_reference_the_hashed_bundle() {
    let app = spawn_app(Db::Sqlite).await.unwrap();
    let (_, html) = app.get_text("/").await;
    assert!(html.contains("/pkg/0123abcd/bazaar.css"), "stylesheet link");
    assert!(
        html.contains("/pkg/0123abcd/bazaar_bg.wasm"),
        "wasm preload"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_a_per_request_csp_nonce_that_the_page_scripts_use() {
    let app = spawn_app(Db::Sqlite).await.unwrap();
    let nonce_of = |response: &reqwest::Response| {
        let csp = response.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(csp.contains("'wasm-unsafe-eval'"), "{csp}");
        assert!(!csp.contains("'unsafe-inline'"), "{csp}");
        let start = csp.find("'nonce-").expect("a nonce") + "'nonce-".len();
        csp[start..].split('\'').next().unwrap().to_owned()
    };
    let first = app.get("/").await;
    assert_eq!(
        first.headers()[header::REFERRER_POLICY],
        "strict-origin-when-cross-origin"
    );
    let nonce = nonce_of(&first);
    let html = first.text().await.unwrap();
    let scripts = html.matches("<script").count();
    assert!(scripts >= 1, "the page has its hydration script");
    assert_eq!(
        html.matches(&format!("nonce=\"{nonce}\"")).count(),
        scripts,
        "every script carries this response's nonce"
    );
    let second = nonce_of(&app.get("/").await);
    assert_ne!(nonce, second, "nonces are not reused");
    assert!(app
        .get("/healthz")
        .await
        .headers()
        .contains_key(header::CONTENT_SECURITY_POLICY));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cross_site_post_is_refused_and_a_same_origin_one_is_served() {
    let app = spawn_app(Db::Sqlite).await.unwrap();
    let post = |site: &'static str| {
        app.client
            .post(app.url("/api/list_models"))
            .header("sec-fetch-site", site)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body("query=iris")
            .send()
    };
    let refused = post("cross-site").await.unwrap();
    assert_eq!(refused.status(), 403);
    let served = post("same-origin").await.unwrap();
    assert_eq!(served.status(), 200);
    assert!(served.text().await.unwrap().contains("Iris Species"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_function_refuses_bad_input_with_422_naming_the_field() {
    let app = spawn_app(Db::Sqlite).await.unwrap();
    let response = app
        .client
        .post(app.url("/api/list_models"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(format!("query={}", "x".repeat(201)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let body = response.text().await.unwrap();
    assert!(
        body.contains("query") && body.contains("at most 200"),
        "{body}"
    );
}
