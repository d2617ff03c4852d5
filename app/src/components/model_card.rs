use leptos::prelude::*;
use leptos_router::components::A;

use crate::components::license_badge::{LicenseTag, PriceTag};
use crate::wire::ModelSummary;

/// One model in a grid: what a buyer scans before opening it.
#[component]
pub fn ModelCard(model: ModelSummary) -> impl IntoView {
    let href = model.href();
    let owner_href = format!("/{}", model.owner);
    view! {
        <article class="model-card" data-testid="model-card">
            <div class="model-card-top">
                <span class="task">{model.task.clone()}</span>
                <LicenseTag license=model.license.clone() />
            </div>
            <h3 class="model-card-title">
                <A href=href>{model.name.clone()}</A>
            </h3>
            <p class="model-card-owner">
                "by " <A href=owner_href>{model.owner_display_name.clone()}</A>
            </p>
            <p class="model-card-summary">{model.summary.clone()}</p>
            <div class="model-card-bottom">
                <PriceTag license=model.license.clone() />
                <span class="downloads" title="Downloads">
                    <span aria-hidden="true">"↓ "</span>
                    {model.downloads}
                    <span class="visually-hidden">" downloads"</span>
                </span>
            </div>
        </article>
    }
}
