//! The built site: the hydration bundle and stylesheet under `pkg/`, and public files at the root.
//!
//! The site build puts the bundle in `pkg/<content hash>/` and names that directory in
//! `pkg/current`; such URLs change whenever the content does, so they are cached forever.
//! A plain `pkg/` (as `cargo leptos watch` writes it) is revalidated on every use instead.
use std::path::Path;

use axum::Router;
use http::{header, HeaderValue};
use tower_http::{services::ServeDir, services::ServeFile, set_header::SetResponseHeaderLayer};

/// Where the hydration bundle is, relative to the site root: `pkg/<hash>` or `pkg`.
pub fn pkg_dir(site_root: &Path) -> String {
    // A server built by cargo-leptos serves the plain `pkg/` that cargo-leptos writes.
    if option_env!("LEPTOS_OUTPUT_NAME").is_some() {
        return "pkg".to_owned();
    }
    match std::fs::read_to_string(site_root.join("pkg/current")) {
        Ok(hash) if is_hash_dir(hash.trim()) => format!("pkg/{}", hash.trim()),
        _ => "pkg".to_owned(),
    }
}

fn is_hash_dir(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_alphanumeric())
}

pub fn routes(site_root: &Path, pkg_dir: &str) -> Router {
    let cache = if pkg_dir == "pkg" {
        "no-cache"
    } else {
        "public, max-age=31536000, immutable"
    };
    let pkg = ServeDir::new(site_root.join(pkg_dir))
        .precompressed_br()
        .precompressed_gzip();
    let mut router = Router::new().nest_service(
        &format!("/{pkg_dir}"),
        tower::ServiceBuilder::new()
            .layer(SetResponseHeaderLayer::overriding(
                header::CACHE_CONTROL,
                HeaderValue::from_static(cache),
            ))
            .service(pkg),
    );
    // Public files (favicon, robots.txt) get explicit routes so they are not mistaken for
    // a publisher's page (`/{owner}`).
    for entry in std::fs::read_dir(site_root).into_iter().flatten().flatten() {
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if path.is_file() && !name.ends_with(".gz") && !name.ends_with(".br") {
            let service = ServeFile::new(&path);
            router = router.route_service(
                &format!("/{name}"),
                tower::ServiceBuilder::new()
                    .layer(SetResponseHeaderLayer::overriding(
                        header::CACHE_CONTROL,
                        HeaderValue::from_static("public, max-age=3600"),
                    ))
                    .service(service),
            );
        }
    }
    router
}
