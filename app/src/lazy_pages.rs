//! The pages the browser loads only when it shows them (Leptos code splitting).
//!
//! A visitor's first page is the catalog or a model page; the pages here (account settings,
//! publishing, sales, licenses, administration) are for the signed-in few. Their code (the
//! views, their server actions and resources, and whatever only they use) is split out of the
//! hydrate bundle into wasm modules of their own, one per group below plus the modules that
//! groups share. The browser fetches a group when one of its pages is first hydrated or
//! navigated to; the server renders every page as before, and names the modules a lazy page
//! needs in `<link rel="preload">`s (from the build's `lazy_modules.json`, see
//! [`LazyModules`]), so they load alongside the main bundle.
//!
//! Pages are grouped by who opens them together, so that opening one fetches a few files
//! rather than one per piece of code two pages share. `scripts/build-site.sh` does the
//! splitting; `scripts/bundle-budget.sh` keeps the main bundle small.
use leptos::prelude::*;
use leptos_router::LazyRoute;

use crate::pages::access_requests::AccessRequestsPage;
use crate::pages::admin::{AuditPage, DeletedListingsPage, OrdersPage, OutboxPage};
use crate::pages::deleted_models::MyDeletedModelsPage;
use crate::pages::licenses::LicensesPage;
use crate::pages::listing_settings::ListingSettingsPage;
use crate::pages::orgs::{OrgPage, OrgsPage};
use crate::pages::publish::{NewModelPage, UploadPage};
use crate::pages::sales::SalesPage;
use crate::pages::settings::{SessionsPage, SettingsPage, TokensPage};

/// `group(Pages) { Route => Page, … }`: a module `group` whose `#[lazy]` function `render`
/// (one split point, so one wasm module) renders any page of the group, an enum `Pages` naming
/// them, and for each page a [`LazyRoute`] `Route` for `<Route view={Lazy::<Route>::new()}>`.
/// A route's `preload` fetches the module before its view is asked for, which hydration needs:
/// it hydrates the server's HTML only once the page's code is there.
macro_rules! lazy_groups {
    ($($group:ident($pages:ident) { $($route:ident => $page:ident,)* })*) => {$(
        // Each variant is named after the page component it renders.
        #[allow(clippy::enum_variant_names)]
        #[derive(Clone, Copy)]
        #[repr(u8)]
        enum $pages {
            $($page,)*
        }

        mod $group {
            use super::*;

            #[leptos::lazy($group)]
            pub(super) fn render(page: $pages) -> AnyView {
                match page {
                    $($pages::$page => view! { <$page /> }.into_any(),)*
                }
            }
        }

        $(
            pub struct $route;

            impl LazyRoute for $route {
                fn data() -> Self {
                    $route
                }

                async fn view(_this: Self) -> AnyView {
                    #[cfg(feature = "ssr")]
                    preload(stringify!($group));
                    $group::render($pages::$page).await
                }

                async fn preload() {
                    #[cfg(feature = "hydrate")]
                    $group::__preload_render().await;
                }
            }
        )*
    )*};
}

lazy_groups! {
    // A signed-in user's own pages: the account tabs, organizations, licenses.
    account_pages(AccountPages) {
        SettingsRoute => SettingsPage,
        SessionsRoute => SessionsPage,
        TokensRoute => TokensPage,
        OrgsRoute => OrgsPage,
        OrgRoute => OrgPage,
        MyDeletedModelsRoute => MyDeletedModelsPage,
        LicensesRoute => LicensesPage,
    }
    // A publisher's pages: a new listing, uploads, a listing's settings and offers, sales
    // and the access requests to gated models.
    publishing_pages(PublishingPages) {
        NewModelRoute => NewModelPage,
        UploadRoute => UploadPage,
        ListingSettingsRoute => ListingSettingsPage,
        SalesRoute => SalesPage,
        AccessRequestsRoute => AccessRequestsPage,
    }
    // Administrators' pages.
    admin_pages(AdminPages) {
        AuditRoute => AuditPage,
        OutboxRoute => OutboxPage,
        DeletedListingsRoute => DeletedListingsPage,
        OrdersRoute => OrdersPage,
    }
}

/// What the site build split off (`lazy_modules.json` in the bundle directory): per group of
/// pages, the wasm modules it needs, and the loader script that fetches them.
#[cfg(feature = "ssr")]
#[derive(Debug, Default, serde::Deserialize)]
pub struct LazyModules {
    loader: String,
    groups: std::collections::HashMap<String, Vec<String>>,
    /// The bundle directory's URL path, `/pkg/<hash>`.
    #[serde(skip)]
    base: String,
}

#[cfg(feature = "ssr")]
impl LazyModules {
    /// The site's, read once per bundle directory; none when the bundle was built unsplit.
    pub fn of_site(options: &leptos::config::LeptosOptions) -> std::sync::Arc<Self> {
        use std::collections::HashMap;
        use std::path::PathBuf;
        use std::sync::{Arc, Mutex, OnceLock};

        static READ: OnceLock<Mutex<HashMap<PathBuf, Arc<LazyModules>>>> = OnceLock::new();
        let dir = PathBuf::from(options.site_root.as_ref()).join(options.site_pkg_dir.as_ref());
        let mut read = READ
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        read.entry(dir.clone())
            .or_insert_with(|| {
                let file = dir.join("lazy_modules.json");
                let mut modules = match std::fs::read(&file) {
                    Ok(json) => serde_json::from_slice(&json).unwrap_or_else(|err| {
                        tracing::warn!(
                            "{} is unreadable, so lazy pages are not preloaded: {err}",
                            file.display()
                        );
                        LazyModules::default()
                    }),
                    Err(_) => LazyModules::default(),
                };
                modules.base = format!("/{}", options.site_pkg_dir);
                Arc::new(modules)
            })
            .clone()
    }
}

/// Names `group`'s modules (and their loader) in the page's `<head>` for preloading, so the
/// browser fetches them beside the main bundle instead of after it. Registered with the head
/// (as leptos_meta's `to_html` does), leaving nothing in the body to hydrate.
#[cfg(feature = "ssr")]
fn preload(group: &str) {
    use leptos_meta::Link;

    let Some(modules) = use_context::<std::sync::Arc<LazyModules>>() else {
        return;
    };
    let Some(files) = modules.groups.get(group) else {
        return;
    };
    for file in files {
        // `fetch()` requests, so the preload must be CORS-mode to be the one they use.
        let _ = view! {
            <Link rel="preload" href=format!("{}/{file}", modules.base) as_="fetch"
                type_="application/wasm" crossorigin="anonymous" />
        }
        .to_html();
    }
    let _ =
        view! { <Link rel="modulepreload" href=format!("{}/{}", modules.base, modules.loader) /> }
            .to_html();
}
