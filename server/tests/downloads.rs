//! Downloads from the seeded catalog: who may fetch what, and resumable (ranged) transfers.
mod common;

use common::TestApp;
use http::header;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use sha2::{Digest, Sha256};

on_each_database!(
    anyone_downloads_open_files_whole_or_in_ranges,
    a_priced_or_gated_model_gives_away_only_its_demo_file,
    the_page_and_the_download_route_agree_on_a_model_with_several_offers,
);

fn file_url(at: &str, path: &str) -> String {
    format!("/api/v1/models/{at}/versions/1.0.0/files/{path}")
}

async fn downloads_of(app: &TestApp, slug: &str) -> i64 {
    domain::entities::model::Entity::find()
        .filter(domain::entities::model::Column::Slug.eq(slug))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .downloads
}

async fn anyone_downloads_open_files_whole_or_in_ranges(app: TestApp) {
    let url = file_url("sklearn-lab/digit-classifier", "model.onnx");
    let before = downloads_of(&app, "digit-classifier").await;
    // Clients ask for the size and ETag first (huggingface_hub does): that is no download.
    for _ in 0..3 {
        let head = app.client.head(app.url(&url)).send().await.unwrap();
        assert_eq!(head.status(), 200);
        assert!(head.headers().contains_key(header::ETAG));
        assert_ne!(head.headers()[header::CONTENT_LENGTH], "0");
    }
    assert_eq!(downloads_of(&app, "digit-classifier").await, before);
    let whole = app.get(&url).await;
    assert_eq!(whole.status(), 200);
    let headers = whole.headers().clone();
    let body = whole.bytes().await.unwrap();
    let sha = hex::encode(Sha256::digest(&body));
    assert_eq!(headers["x-content-sha256"], sha.as_str());
    assert_eq!(headers[header::ETAG], format!("\"{sha}\"").as_str());
    assert_eq!(
        headers[header::CONTENT_LENGTH],
        body.len().to_string().as_str()
    );
    assert_eq!(headers[header::ACCEPT_RANGES], "bytes");
    assert!(headers[header::CACHE_CONTROL]
        .to_str()
        .unwrap()
        .starts_with("public"));
    assert!(headers[header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .contains("filename=\"model.onnx\""));
    assert_eq!(downloads_of(&app, "digit-classifier").await, before + 1);

    // A broken download resumes from where it stopped.
    let rest = app
        .client
        .get(app.url(&url))
        .header(header::RANGE, "bytes=100-")
        .header(header::IF_RANGE, format!("\"{sha}\""))
        .send()
        .await
        .unwrap();
    assert_eq!(rest.status(), 206);
    assert_eq!(
        rest.headers()[header::CONTENT_RANGE],
        format!("bytes 100-{}/{}", body.len() - 1, body.len()).as_str()
    );
    assert_eq!(rest.bytes().await.unwrap(), body.slice(100..));
    // Only the first part counts as a download.
    assert_eq!(downloads_of(&app, "digit-classifier").await, before + 1);

    // A range past the end, and a range against a file that changed since.
    let past = app
        .client
        .get(app.url(&url))
        .header(header::RANGE, format!("bytes={}-", body.len()))
        .send()
        .await
        .unwrap();
    assert_eq!(past.status(), 416);
    assert_eq!(
        past.headers()[header::CONTENT_RANGE],
        format!("bytes */{}", body.len()).as_str()
    );
    let stale = app
        .client
        .get(app.url(&url))
        .header(header::RANGE, "bytes=0-9")
        .header(header::IF_RANGE, "\"something-else\"")
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 200);
    assert_eq!(stale.bytes().await.unwrap(), body);

    let cached = app
        .client
        .get(app.url(&url))
        .header(header::IF_NONE_MATCH, format!("\"{sha}\""))
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), 304);

    for (path, status) in [
        (file_url("sklearn-lab/digit-classifier", "labels.txt"), 200),
        (file_url("sklearn-lab/digit-classifier", "missing.bin"), 404),
        (file_url("sklearn-lab/no-such-model", "model.onnx"), 404),
        (
            "/api/v1/models/sklearn-lab/digit-classifier/versions/9.9.9/files/model.onnx".into(),
            404,
        ),
    ] {
        assert_eq!(app.get(&path).await.status(), status, "{path}");
    }
}

async fn a_priced_or_gated_model_gives_away_only_its_demo_file(app: TestApp) {
    // The demo file: the card's `demo:` block names it, so anyone may try the model.
    let demo = app
        .get(&file_url("tabular-works/diabetes-progression", "demo.onnx"))
        .await;
    assert_eq!(demo.status(), 200);
    assert!(demo.headers()[header::CACHE_CONTROL]
        .to_str()
        .unwrap()
        .starts_with("public"));

    for (at, path, reason) in [
        // The licensed weights are a different, better model than the free demo.
        (
            "tabular-works/diabetes-progression",
            "model.onnx",
            "buy a license",
        ),
        (
            "tabular-works/sentiment-mini",
            "model.onnx",
            "buy a license",
        ),
        (
            "tabular-works/diabetes-progression",
            "config.json",
            "buy a license",
        ),
        (
            "tabular-works/sentiment-mini",
            "config.json",
            "buy a license",
        ),
        ("sklearn-lab/iris-species", "config.json", "gated"),
    ] {
        let refused = app.get(&file_url(at, path)).await;
        assert_eq!(refused.status(), 403, "{at}/{path}");
        let body: serde_json::Value = refused.json().await.unwrap();
        assert!(
            body["error"].as_str().unwrap().contains(reason),
            "{at}/{path}: {body}"
        );
    }

    // A signed-in stranger is no different from an anonymous visitor.
    let cookie = app.sign_up("stranger").await;
    let refused = app
        .client
        .get(app.url(&file_url(
            "tabular-works/diabetes-progression",
            "config.json",
        )))
        .header(header::COOKIE, cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);

    // The model page links exactly the files a visitor may download.
    let (status, page) = app.get_text("/tabular-works/diabetes-progression").await;
    assert_eq!(status, 200);
    assert_eq!(
        page.matches("data-testid=\"download\"").count(),
        1,
        "{page}"
    );
    assert!(page.contains("/versions/1.0.0/files/demo.onnx"));
    // And it says what a license adds to the free demo, before any offer is chosen.
    let adds = page
        .split("data-testid=\"license-adds\"")
        .nth(1)
        .expect("the license panel says what a license adds");
    let adds = &adds[..adds.find("</div>").unwrap()];
    assert!(
        adds.contains("Free to try: <code>demo.onnx</code>"),
        "{adds}"
    );
    // A text demo's labels and vocabulary are free with it: the page reads them.
    for (path, status) in [("labels.txt", 200), ("vocab.txt", 200), ("model.onnx", 403)] {
        let got = app
            .get(&file_url("tabular-works/sentiment-mini", path))
            .await
            .status();
        assert_eq!(got, status, "sentiment-mini/{path}");
    }
    assert!(adds.contains("A license adds 2 files"), "{adds}");
    assert!(adds.contains("config.json, model.onnx"), "{adds}");
}

/// With a paid offer and a later open one, the open one decides: the catalog shows it, the
/// model page links every file, and the download route serves them, all by one rule.
async fn the_page_and_the_download_route_agree_on_a_model_with_several_offers(app: TestApp) {
    let listing = domain::entities::model::Entity::find()
        .filter(domain::entities::model::Column::Slug.eq("diabetes-progression"))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let open = domain::licensing::offers::OfferInput {
        kind: "open",
        spdx: Some("MIT"),
        ..Default::default()
    };
    let terms = domain::licensing::offers::check(&open, true).unwrap();
    domain::licensing::offers::add(&app.state.db, listing.id, &terms, "")
        .await
        .unwrap();
    let at = "tabular-works/diabetes-progression";
    let (status, page) = app.get_text(&format!("/{at}")).await;
    assert_eq!(status, 200);
    let files = page.matches("data-testid=\"download\"").count();
    assert!(
        files > 1,
        "every file is linked, not only the demo: {files}"
    );
    assert!(
        !page.contains("license-adds"),
        "an open model has nothing a license adds"
    );
    let config = app.get(&file_url(at, "config.json")).await;
    assert_eq!(config.status(), 200, "the route serves what the page links");
    let (_, catalog) = app.get_text("/?q=diabetes").await;
    assert!(catalog.contains("Free"), "the card shows the open offer");
}
