use leptos::prelude::*;
use leptos_meta::{Meta, Title};
use leptos_router::hooks::use_params_map;

use crate::api::get_publisher;
use crate::components::model_card::ModelCard;
use crate::pages::not_found::NotFound;
use crate::wire::PublisherProfile;

#[component]
pub fn PublisherPage() -> impl IntoView {
    let params = use_params_map();
    let username = move || params.read().get("owner").unwrap_or_default();
    let profile = Resource::new(username, get_publisher);
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match profile.await {
                    Ok(Some(profile)) => view! { <Profile profile /> }.into_any(),
                    Ok(None) => view! { <NotFound /> }.into_any(),
                    Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Profile(profile: PublisherProfile) -> impl IntoView {
    let initial = profile
        .display_name
        .chars()
        .next()
        .unwrap_or('?')
        .to_string();
    view! {
        <Title text=profile.display_name.clone() />
        <Meta name="description" content=profile.bio.clone() />
        <section class="publisher-head">
            <div class="avatar" aria-hidden="true">{initial}</div>
            <div>
                <h1>{profile.display_name.clone()}</h1>
                <p class="muted">"@" {profile.username.clone()}</p>
                <p>{profile.bio.clone()}</p>
            </div>
        </section>
        <h2>{format!("Models ({})", profile.models.len())}</h2>
        <div class="model-grid">
            {profile.models.into_iter().map(|model| view! { <ModelCard model /> }).collect_view()}
        </div>
    }
}
