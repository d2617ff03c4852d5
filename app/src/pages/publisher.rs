use leptos::prelude::*;
use leptos_meta::{Meta, Title};
use leptos_router::hooks::use_params_map;

use crate::api::get_publisher;
use crate::components::avatar::Avatar;
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
    view! {
        <Title text=profile.display_name.clone() />
        <Meta name="description" content=profile.bio.clone() />
        <section class="publisher-head">
            <Avatar name=profile.display_name.clone() url=profile.avatar_url.clone() />
            <div>
                <h1>{profile.display_name.clone()}</h1>
                <p class="muted">"@" {profile.username.clone()}</p>
                <p class="bio" data-testid="bio">{profile.bio.clone()}</p>
                {(!profile.links.is_empty()).then(|| view! {
                    <ul class="profile-links" data-testid="profile-links">
                        {profile.links.iter().map(|link| view! {
                            // Visitors' links: followed by no search engine, opened apart.
                            <li><a href=link.clone() rel="nofollow ugc noopener noreferrer" target="_blank">{link_label(link)}</a></li>
                        }).collect_view()}
                    </ul>
                })}
            </div>
        </section>
        <h2>{format!("Models ({})", profile.models.len())}</h2>
        <div class="model-grid">
            {profile.models.into_iter().map(|model| view! { <ModelCard model /> }).collect_view()}
        </div>
    }
}

/// A link as people read it: the address without its scheme or a trailing slash.
fn link_label(link: &str) -> String {
    let bare = link
        .strip_prefix("https://")
        .or_else(|| link.strip_prefix("http://"))
        .unwrap_or(link);
    bare.strip_suffix('/').unwrap_or(bare).to_owned()
}
