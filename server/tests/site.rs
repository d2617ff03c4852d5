//! The marketplace as a visitor sees it, on a freshly seeded server.
mod common;

use common::TestApp;
use domain::entities::file;
use sea_orm::EntityTrait;
use sha2::{Digest, Sha256};

const SEEDED_MODELS: [(&str, &str); 5] = [
    ("sklearn-lab/digit-classifier", "Digit Classifier"),
    ("sklearn-lab/shape-classifier", "Shape Classifier"),
    ("sklearn-lab/iris-species", "Iris Species"),
    ("tabular-works/diabetes-progression", "Diabetes Progression"),
    ("tabular-works/sentiment-mini", "Sentiment Mini"),
];

on_each_database!(
    probes_answer,
    readiness_failures_name_the_component_not_the_cause,
    home_lists_the_seeded_models,
    model_pages_show_each_file_with_the_hash_of_its_stored_bytes,
    unknown_pages_are_404,
    search_narrows_the_catalog,
    publisher_page_lists_their_models,
    seeding_again_adds_nothing,
    pages_keep_rendering_while_another_router_is_built,
    license_is_spelled_one_way,
    every_seeded_model_page_offers_its_demo_to_try,
);

async fn probes_answer(app: TestApp) {
    assert_eq!(app.get_text("/healthz").await, (200, "ok".into()));
    assert_eq!(app.get_text("/readyz").await, (200, "ready".into()));
}

async fn readiness_failures_name_the_component_not_the_cause(app: TestApp) {
    // The object store's directory becomes a link to itself: listing it fails with an error
    // that names the path on disk.
    let objects = app.data_dir.join("objects");
    std::fs::remove_dir_all(&objects).unwrap();
    std::os::unix::fs::symlink(&objects, &objects).unwrap();
    let (status, body) = app.get_text("/readyz").await;
    assert_eq!(status, 503);
    assert_eq!(body, "not ready: object storage");
    assert_eq!(app.get_text("/healthz").await, (200, "ok".into()));
}

async fn home_lists_the_seeded_models(app: TestApp) {
    let (status, html) = app.get_text("/").await;
    assert_eq!(status, 200);
    for (path, name) in SEEDED_MODELS {
        assert!(html.contains(name), "home is missing {name}");
        assert!(
            html.contains(&format!("href=\"/{path}\"")),
            "home does not link {path}"
        );
    }
    assert!(html.contains("Free"), "open model shows as Free");
    assert!(html.contains("$9.00"), "paid model shows its price");
    assert!(
        html.contains("$3.00/month"),
        "subscription shows its monthly price"
    );
}

async fn model_pages_show_each_file_with_the_hash_of_its_stored_bytes(app: TestApp) {
    let files = file::Entity::find().all(&app.state.db).await.unwrap();
    assert!(
        files.len() >= 12,
        "seed stores every model's files, found {}",
        files.len()
    );
    for (path, name) in SEEDED_MODELS {
        let (status, html) = app.get_text(&format!("/{path}")).await;
        assert_eq!(status, 200, "/{path}");
        assert!(html.contains(name));
        assert!(html.contains("model.onnx"), "/{path} lists model.onnx");
    }
    for f in files {
        let bytes = app.state.storage.read_all(&f.object_key).await.unwrap();
        assert_eq!(bytes.len() as i64, f.size);
        let actual = hex::encode(Sha256::digest(&bytes));
        assert_eq!(
            actual, f.sha256,
            "{} stored hash differs from its bytes",
            f.path
        );
        assert_eq!(f.sha256.len(), 64);
    }
    let (_, html) = app.get_text("/sklearn-lab/digit-classifier").await;
    let hashes: Vec<&str> = html
        .split("data-testid=\"sha256\"")
        .skip(1)
        .filter_map(|rest| rest.split_once('>').map(|(_, text)| &text[..64]))
        .collect();
    assert_eq!(hashes.len(), 4, "digit-classifier ships four files");
    assert!(hashes
        .iter()
        .all(|h| h.bytes().all(|b| b.is_ascii_hexdigit())));
}

async fn unknown_pages_are_404(app: TestApp) {
    for path in [
        "/no-such-publisher",
        "/sklearn-lab/no-such-model",
        "/a/b/c/d",
    ] {
        let (status, html) = app.get_text(path).await;
        assert_eq!(status, 404, "{path}");
        assert!(
            html.contains("We couldn't find that page"),
            "{path} renders the 404 page"
        );
    }
}

async fn search_narrows_the_catalog(app: TestApp) {
    let (_, html) = app.get_text("/?q=IRIS").await;
    assert!(html.contains("Iris Species"));
    assert!(!html.contains("Digit Classifier"));
    let (_, html) = app.get_text("/?q=100%25").await;
    assert!(
        html.contains("No models match"),
        "LIKE wildcards in the query are literal"
    );
}

async fn publisher_page_lists_their_models(app: TestApp) {
    let (status, html) = app.get_text("/tabular-works").await;
    assert_eq!(status, 200);
    assert!(html.contains("Tabular Works"));
    assert!(html.contains("Diabetes Progression"));
    assert!(!html.contains("Iris Species"));
}

async fn seeding_again_adds_nothing(app: TestApp) {
    let report = server::seed_data::load(&app.state).await.unwrap();
    assert_eq!(report.models_added, 0);
    assert_eq!(report.models_present, SEEDED_MODELS.len());
}

/// Building a router, as a second server in the same process does when it starts, must not
/// stall the pages another router is rendering at that moment. Finding the routes suppresses
/// leptos' resource loads through a process-wide flag while it runs, and a page whose data load
/// began then never answered.
async fn pages_keep_rendering_while_another_router_is_built(app: TestApp) {
    let config = server::config::Config {
        site_root: app.site_root.clone(),
        data_dir: app.data_dir.clone(),
        ..server::config::Config::default()
    };
    // Stops the builder however this test ends, so a failure cannot leave it running.
    struct Building(std::sync::Arc<std::sync::atomic::AtomicBool>);
    impl Drop for Building {
        fn drop(&mut self) {
            self.0.store(false, std::sync::atomic::Ordering::Relaxed);
        }
    }
    let building = Building(std::sync::Arc::new(std::sync::atomic::AtomicBool::new(
        true,
    )));
    let builder = {
        let (building, state) = (building.0.clone(), app.state.clone());
        std::thread::spawn(move || {
            let mut built = 0;
            while building.load(std::sync::atomic::Ordering::Relaxed) {
                drop(server::startup::router(&config, state.clone()));
                built += 1;
            }
            built
        })
    };
    for round in 0..90 {
        let path = ["/sklearn-lab", "/sklearn-lab/digit-classifier", "/?q=iris"][round % 3];
        let response = tokio::time::timeout(std::time::Duration::from_secs(10), app.get(path))
            .await
            .unwrap_or_else(|_| {
                panic!("{path} did not answer within 10 s while routers were built")
            });
        assert_eq!(response.status(), 200, "{path}");
    }
    drop(building);
    assert!(builder.join().unwrap() > 0, "routers were built meanwhile");
}

/// The phone-layout check in Chromium visits the pages `end2end/routes.json` lists; a route
/// added to the router must be added there too, so no page escapes that check.
#[test]
fn the_phone_layout_check_visits_every_route() {
    let listed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../end2end/routes.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let listed: Vec<&str> = listed["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["route"].as_str().unwrap())
        .collect();
    let missing: Vec<String> = server::startup::page_routes()
        .iter()
        .map(|route| route.path().to_owned())
        .filter(|path| !listed.contains(&path.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "routes missing from end2end/routes.json: {missing:?}"
    );
}

/// "License" everywhere, as SPDX, Hugging Face and Stripe spell it: on the pages anyone sees, in
/// the seeded cards, and in refusals.
async fn license_is_spelled_one_way(app: TestApp) {
    for path in [
        "/",
        "/tabular-works/sentiment-mini",
        "/sklearn-lab/digit-classifier",
    ] {
        let (status, html) = app.get_text(path).await;
        assert_eq!(status, 200, "{path}");
        assert!(
            !html.to_lowercase().contains("licence"),
            "{path} spells it 'licence'"
        );
    }
    let refused = app
        .get("/api/v1/models/tabular-works/sentiment-mini/versions/1.0.0/files/config.json")
        .await
        .text()
        .await
        .unwrap();
    assert!(!refused.to_lowercase().contains("licence"), "{refused}");
}

/// Each seeded model page has a "Try it" panel naming its demo file on this origin, with the
/// SHA-256 the worker checks; the page refers to the runner's bundle but does not load it.
async fn every_seeded_model_page_offers_its_demo_to_try(app: TestApp) {
    for (path, demo) in [
        ("sklearn-lab/digit-classifier", "model.onnx"),
        ("sklearn-lab/iris-species", "model.onnx"),
        ("tabular-works/diabetes-progression", "demo.onnx"),
        ("tabular-works/sentiment-mini", "demo.onnx"),
    ] {
        let (status, page) = app.get_text(&format!("/{path}")).await;
        assert_eq!(status, 200, "{path}");
        let url = format!("/api/v1/models/{path}/versions/1.0.0/files/{demo}");
        assert!(
            page.contains(&format!("data-try-demo=\"{url}\"")),
            "{path}: the panel names {url}"
        );
        let sha256 = page
            .split("data-try-sha256=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("the panel carries the demo's SHA-256");
        let bytes = app.get(&url).await.bytes().await.unwrap();
        assert_eq!(sha256, hex::encode(Sha256::digest(&bytes)), "{path}");
        assert!(page.contains("<meta name=\"bazaar-runner\""), "{path}");
        assert!(
            !page.contains("runner_web_bg.wasm"),
            "{path}: no runner code up front"
        );
    }
}
