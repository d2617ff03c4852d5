//! An account's picture, or its initial when it has none.
use leptos::prelude::*;

#[component]
pub fn Avatar(name: String, url: Option<String>) -> impl IntoView {
    match url {
        Some(url) => view! { <img class="avatar" src=url alt="" width="72" height="72" data-testid="avatar" /> }
            .into_any(),
        None => {
            let initial = name.chars().next().unwrap_or('?').to_uppercase().to_string();
            view! { <div class="avatar" aria-hidden="true">{initial}</div> }.into_any()
        }
    }
}
