use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::params::ParamsMap;
use leptos_router::NavigateOptions;

use crate::api::list_models;
use crate::components::model_card::ModelCard;
use crate::wire::ModelSummary;

/// The catalog. The search box is a plain GET form (works without JavaScript); once hydrated,
/// typing updates the address as submitting would, so the server answers both the same way.
#[component]
pub fn HomePage() -> impl IntoView {
    let query = use_query_map();
    let text = move || query.read().get("q").filter(|q| !q.trim().is_empty());
    let task = move || query.read().get("task").filter(|t| !t.is_empty());
    let models = Resource::new(
        move || (text(), task()),
        |(text, task)| list_models(text, task),
    );
    let navigate = use_navigate();
    let search_as_you_type = move |typed: String| {
        let mut params = ParamsMap::new();
        if !typed.trim().is_empty() {
            params.insert("q", typed);
        }
        if let Some(task) = task() {
            params.insert("task", task);
        }
        let options = NavigateOptions {
            replace: true,
            scroll: false,
            ..Default::default()
        };
        navigate(&format!("/{}", params.to_query_string()), options);
    };

    // Where deleting an account ends.
    let deleted = move || query.read().get("deleted").is_some();

    view! {
        <Title text="" />
        <Show when=deleted>
            <p class="form-done" role="status" data-testid="account-deleted">"Your account is deleted."</p>
        </Show>
        <section class="hero">
            <h1>"Models you can try before you buy"</h1>
            <p class="lede">
                "Browse open and commercial models, run them in your browser on WebGPU, and license them in a click."
            </p>
            <form method="get" action="/" class="search" role="search">
                <input
                    type="search"
                    name="q"
                    placeholder="Search models, tasks, tags…"
                    aria-label="Search models"
                    autocomplete="off"
                    value=move || text().unwrap_or_default()
                    prop:value=move || text().unwrap_or_default()
                    on:input=move |ev| search_as_you_type(event_target_value(&ev))
                />
                <button type="submit">"Search"</button>
            </form>
        </section>
        // A transition keeps the last results on screen while the next search loads.
        <Transition fallback=|| view! { <p class="loading">"Loading models…"</p> }>
            {move || Suspend::new(async move {
                match models.await {
                    Ok(list) => view! { <CatalogGrid models=list /> }.into_any(),
                    Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn CatalogGrid(models: Vec<ModelSummary>) -> impl IntoView {
    let count = match models.len() {
        1 => "1 model".to_owned(),
        n => format!("{n} models"),
    };
    view! {
        <p class="result-count" data-testid="result-count">{count}</p>
        {if models.is_empty() {
            view! { <p class="empty">"No models match your search."</p> }.into_any()
        } else {
            view! {
                <div class="model-grid">
                    {models.into_iter().map(|model| view! { <ModelCard model /> }).collect_view()}
                </div>
            }
            .into_any()
        }}
    }
}
