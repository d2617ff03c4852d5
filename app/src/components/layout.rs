use leptos::prelude::*;
use leptos_router::components::A;

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
            <div class="viewer">
                <A href="/login">"Log in"</A>
                <A href="/signup" attr:class="button button-small">"Sign up"</A>
            </div>
        </header>
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
