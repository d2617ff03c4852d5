use leptos::prelude::*;
use leptos_router::{components::A, hooks::use_location};

use crate::api::{whoami, LogOut};

#[component]
pub fn SiteHeader() -> impl IntoView {
    view! {
        <header class="site-header">
            <A href="/" attr:class="brand">
                <span class="brand-mark" aria-hidden="true">"◆"</span>
                "Bazaar"
            </A>
            <nav class="site-nav" aria-label="Main">
                <A href="/">"Models"</A>
            </nav>
            <ViewerMenu />
        </header>
    }
}

/// Log-in links, or who is logged in with a log-out button. Logging in or out ends in a
/// navigation, so the menu asks again whenever the page changes.
#[component]
fn ViewerMenu() -> impl IntoView {
    let log_out = ServerAction::<LogOut>::new();
    let pathname = use_location().pathname;
    let viewer = Resource::new(
        move || (pathname.get(), log_out.version().get()),
        |_| whoami(),
    );
    view! {
        <div class="viewer">
            <Suspense>
                {move || Suspend::new(async move {
                    match viewer.await {
                        Ok(Some(viewer)) => view! {
                            <span class="viewer-name" data-testid="viewer">{viewer.username}</span>
                            <ActionForm action=log_out attr:class="inline-form">
                                <button type="submit" class="link-button">"Log out"</button>
                            </ActionForm>
                        }
                        .into_any(),
                        _ => view! {
                            <A href="/login">"Log in"</A>
                            <A href="/signup" attr:class="button button-small">"Sign up"</A>
                        }
                        .into_any(),
                    }
                })}
            </Suspense>
        </div>
    }
}

#[component]
pub fn SiteFooter() -> impl IntoView {
    view! {
        <footer class="site-footer">
            <p>"Bazaar — a self-hostable model marketplace. Try models in your browser, license them, download them."</p>
        </footer>
    }
}
