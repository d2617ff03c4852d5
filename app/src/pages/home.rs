use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::list_models;
use crate::components::model_card::ModelCard;
use crate::wire::ModelSummary;

/// The catalog. The search box is a plain GET form (works without JavaScript); once hydrated it
/// also filters the visible cards as you type.
#[component]
pub fn HomePage() -> impl IntoView {
    let query = use_query_map();
    let text = move || query.read().get("q").filter(|q| !q.trim().is_empty());
    let task = move || query.read().get("task").filter(|t| !t.is_empty());
    let models = Resource::new(
        move || (text(), task()),
        |(text, task)| list_models(text, task),
    );
    let live_filter = RwSignal::new(String::new());

    view! {
        <Title text="" />
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
                    prop:value=move || text().unwrap_or_default()
                    on:input=move |ev| live_filter.set(event_target_value(&ev))
                />
                <button type="submit">"Search"</button>
            </form>
        </section>
        <Suspense fallback=|| view! { <p class="loading">"Loading models…"</p> }>
            {move || Suspend::new(async move {
                match models.await {
                    Ok(list) => view! { <CatalogGrid models=list filter=live_filter /> }.into_any(),
                    Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn CatalogGrid(models: Vec<ModelSummary>, filter: RwSignal<String>) -> impl IntoView {
    let visible = Memo::new(move |_| {
        let needle = filter.get();
        models
            .iter()
            .filter(|m| m.matches(&needle))
            .cloned()
            .collect::<Vec<_>>()
    });
    view! {
        <p class="result-count" data-testid="result-count">
            {move || match visible.read().len() {
                1 => "1 model".to_owned(),
                n => format!("{n} models"),
            }}
        </p>
        <Show
            when=move || !visible.read().is_empty()
            fallback=|| view! { <p class="empty">"No models match your search."</p> }
        >
            <div class="model-grid">
                <For each=move || visible.get() key=|m| m.href() let:model>
                    <ModelCard model />
                </For>
            </div>
        </Show>
    }
}
