use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

/// Shown for unknown paths and for models or publishers that do not exist; answers 404.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found" />
        <section class="not-found">
            <p class="not-found-code">"404"</p>
            <h1>"We couldn't find that page"</h1>
            <p>"The model or publisher may have been renamed or removed."</p>
            <A href="/">"Browse all models"</A>
        </section>
    }
}
