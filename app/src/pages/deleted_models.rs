//! `/settings/deleted`: the models the viewer (or an organization they publish for) deleted,
//! to restore or purge. Deleting a model lands here, saying what happened.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::{my_deleted_listings, PurgeListing, RestoreListing};
use crate::components::deleted::{DeletedModels, DeletedOutcome};
use crate::components::forms::{refusal, DONE_PARAM};
use crate::pages::settings::SettingsNav;

#[component]
pub fn MyDeletedModelsPage() -> impl IntoView {
    let purge = ServerAction::<PurgeListing>::new();
    let restore = ServerAction::<RestoreListing>::new();
    let listings = Resource::new(
        move || (purge.version().get(), restore.version().get()),
        |_| my_deleted_listings(),
    );
    let query = use_query_map();
    // Said on arrival, not again once a restore or purge was tried here (with or without
    // JavaScript).
    let just_deleted = move || {
        let acted_here = purge.value().get().is_some()
            || restore.value().get().is_some()
            || query.read().get(DONE_PARAM).is_some();
        query.read().get("deleted").filter(|_| !acted_here)
    };
    view! {
        <Title text="Deleted models" />
        <h1>"Deleted models"</h1>
        <SettingsNav />
        {move || just_deleted().map(|model| view! {
            <p class="form-done" role="status" data-testid="deleted-notice">
                {format!("{model} is deleted: it is gone from the catalog and every page. You can restore it here until it is purged.")}
            </p>
        })}
        <p class="muted">"Models you delete stay here, hidden from everyone, until you or an administrator purge them."</p>
        <DeletedOutcome purge restore />
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match listings.await {
                    Ok(rows) => view! { <DeletedModels rows purge restore /> }.into_any(),
                    Err(err) => refusal(err),
                }
            })}
        </Transition>
    }
}
