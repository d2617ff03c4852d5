#![recursion_limit = "256"]
//! Bazaar's pages, rendered on the server and hydrated in the browser.
pub mod api;
pub mod components;
pub mod error;
pub mod lazy_pages;
pub mod pages;
pub mod uploader;
pub mod viewer;
pub mod wire;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    path, Lazy, SsrMode,
};

use components::layout::{SiteFooter, SiteHeader};
use lazy_pages::{
    AccessRequestsRoute, AuditRoute, DeletedListingsRoute, LicensesRoute, ListingSettingsRoute,
    MyDeletedModelsRoute, NewModelRoute, OrdersRoute, OrgRoute, OrgsRoute, OutboxRoute, SalesRoute,
    SessionsRoute, SettingsRoute, TokensRoute, UploadRoute,
};
use pages::account::{
    ForgotPasswordPage, LoginPage, ResetPasswordPage, SignupPage, VerifyEmailPage,
};
use pages::{home::HomePage, model::ModelPage, not_found::NotFound, publisher::PublisherPage};

/// The HTML document around the app. Asset URLs come from the server's options so a
/// content-hashed asset directory is referenced correctly.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    provide_context(lazy_pages::LazyModules::of_site(&options));
    let css = format!("/{}/{}.css", options.site_pkg_dir, options.output_name);
    // The runner's own bundle, which only the "Try it" worker loads.
    let runner = format!("/{}/runner_web.js", options.site_pkg_dir);
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <link rel="stylesheet" href=css />
                <meta name="bazaar-runner" content=runner />
                // The "Try it" panels' widgets (a few kilobytes; the runner loads only on "Try it").
                <script type="module" src="/try.js" nonce=leptos::nonce::use_nonce()></script>
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// Every page's `<title>`: its own title (a model's or a publisher's name, say) then the site's.
/// On the server the result is escaped here, the one place every title passes through, because
/// leptos_meta writes it into `<title>` verbatim; in the browser it becomes `document.title`,
/// which is plain text and must stay raw.
fn document_title(page: String) -> String {
    let title = if page.is_empty() {
        "Bazaar".to_owned()
    } else {
        format!("{page} · Bazaar")
    };
    #[cfg(feature = "ssr")]
    let title = html_escape::encode_text(&title).into_owned();
    title
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    viewer::provide_viewer();
    view! {
        <Title formatter=document_title />
        <Router>
            <SiteHeader />
            <main class="page">
                // Async SSR: pages arrive complete, so they read fine with JavaScript off.
                <Routes fallback=NotFound>
                    <Route path=path!("") view=HomePage ssr=SsrMode::Async />
                    <Route path=path!("login") view=LoginPage ssr=SsrMode::Async />
                    <Route path=path!("signup") view=SignupPage ssr=SsrMode::Async />
                    <Route path=path!("forgot-password") view=ForgotPasswordPage ssr=SsrMode::Async />
                    <Route path=path!("reset-password/:token") view=ResetPasswordPage ssr=SsrMode::Async />
                    <Route path=path!("verify-email/:token") view=VerifyEmailPage ssr=SsrMode::Async />
                    <Route path=path!("settings") view={Lazy::<SettingsRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("settings/sessions") view={Lazy::<SessionsRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("settings/tokens") view={Lazy::<TokensRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("settings/organizations") view={Lazy::<OrgsRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("settings/deleted") view={Lazy::<MyDeletedModelsRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("settings/organizations/:name") view={Lazy::<OrgRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("admin/audit") view={Lazy::<AuditRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("admin/outbox") view={Lazy::<OutboxRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("new") view={Lazy::<NewModelRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("licenses") view={Lazy::<LicensesRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("access-requests") view={Lazy::<AccessRequestsRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("sales") view={Lazy::<SalesRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("admin/deleted") view={Lazy::<DeletedListingsRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("admin/orders") view={Lazy::<OrdersRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!(":owner/:slug/upload") view={Lazy::<UploadRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!(":owner/:slug/settings") view={Lazy::<ListingSettingsRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!(":owner/:slug") view=ModelPage ssr=SsrMode::Async />
                    <Route path=path!(":owner") view=PublisherPage ssr=SsrMode::Async />
                </Routes>
            </main>
            <SiteFooter />
        </Router>
    }
}
