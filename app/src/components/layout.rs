use leptos::prelude::*;
use leptos_router::components::A;

use crate::api::LogOut;
use crate::viewer::use_viewer;

#[component]
pub fn SiteHeader() -> impl IntoView {
    let viewer = use_viewer();
    view! {
        <header class="site-header">
            <A href="/" attr:class="brand">
                <span class="brand-mark" aria-hidden="true">"◆"</span>
                "Bazaar"
            </A>
            <nav class="site-nav" aria-label="Main">
                <A href="/">"Models"</A>
            </nav>
            <div class="viewer" data-testid="viewer">
                {move || match viewer.get() {
                    Some(me) => view! { <SignedIn is_admin=me.is_admin is_publisher=me.is_publisher username=me.username /> }.into_any(),
                    None => view! {
                        <A href="/login">"Log in"</A>
                        <A href="/signup" attr:class="button button-small">"Sign up"</A>
                    }
                    .into_any(),
                }}
            </div>
        </header>
    }
}

#[component]
fn SignedIn(username: String, is_admin: bool, is_publisher: bool) -> impl IntoView {
    let viewer = use_viewer();
    let log_out = ServerAction::<LogOut>::new();
    let menu = NodeRef::<leptos::html::Details>::new();
    Effect::new(move || {
        if matches!(log_out.value().get(), Some(Ok(()))) {
            viewer.set(None);
        }
    });
    // Everything about the account sits in one menu, so the header fits a phone however many
    // links a role adds. <details> opens without JavaScript.
    view! {
        {is_publisher.then(|| view! { <A href="/new" attr:class="button button-small header-new" attr:data-testid="new-model">"New model"</A> })}
        <details class="account-menu" data-testid="account-menu" node_ref=menu>
            <summary class="viewer-name" data-testid="viewer-name">{username}</summary>
            // The header stays mounted across pages: a choice in the menu closes it.
            <div class="menu-panel" on:click=move |_| {
                if let Some(menu) = menu.get() {
                    let _ = menu.remove_attribute("open");
                }
            }>
                <A href="/licenses">"My licenses"</A>
                <A href="/settings">"Settings"</A>
                {is_publisher.then(|| view! { <A href="/new">"New model"</A> <A href="/sales">"Sales"</A> <A href="/access-requests">"Access requests"</A> })}
                {is_admin.then(|| view! { <A href="/admin/audit">"Admin"</A> })}
                <ActionForm action=log_out attr:class="inline-form">
                    <button type="submit" class="link-button">"Log out"</button>
                </ActionForm>
            </div>
        </details>
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
