//! The list of deleted models with what each can still become: restored (for its publishers)
//! or purged for good behind a typed confirmation (for its publishers and site admins).
use leptos::prelude::*;

use crate::api::{PurgeListing, RestoreListing};
use crate::components::forms::{FieldError, FormDone, FormError};
use crate::wire::{format_size, DeletedListingRow};

#[component]
pub fn DeletedModels(
    rows: Vec<DeletedListingRow>,
    purge: ServerAction<PurgeListing>,
    /// Offered to publishers; admins purge only.
    #[prop(optional)]
    restore: Option<ServerAction<RestoreListing>>,
) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="muted" data-testid="no-deleted">"No deleted models."</p> }
            .into_any();
    }
    view! {
        <ul class="deleted-list" data-testid="deleted-models">
            {rows.into_iter().map(|row| view! { <DeletedModel row purge restore /> }).collect_view()}
        </ul>
    }
    .into_any()
}

#[component]
fn DeletedModel(
    row: DeletedListingRow,
    purge: ServerAction<PurgeListing>,
    restore: Option<ServerAction<RestoreListing>>,
) -> impl IntoView {
    let confirmation = row.confirmation();
    let prompt = format!("Type {confirmation} to delete its files for good");
    let id = row.id;
    let data_model = confirmation.clone();
    view! {
        <li class="deleted-model" data-model=data_model>
            <p class="deleted-title">
                <strong>{row.name.clone()}</strong> " " <span class="muted">{confirmation}</span>
            </p>
            <p class="muted">
                {format!("Deleted {} · {} files · {}", row.deleted_at, row.files, format_size(row.bytes))}
            </p>
            <div class="deleted-actions">
                {restore.map(|restore| view! {
                    <ActionForm action=restore attr:class="inline-form">
                        <input type="hidden" name="id" value=id />
                        <button type="submit" class="button button-secondary button-small" data-testid="restore">"Restore"</button>
                    </ActionForm>
                })}
                <ActionForm action=purge attr:class="inline-form purge-form">
                    <input type="hidden" name="id" value=id />
                    <label>
                        {prompt}
                        <input type="text" name="confirm" required autocomplete="off" data-testid="confirm-purge" />
                    </label>
                    <button type="submit" class="button button-danger button-small" data-testid="purge">"Purge"</button>
                </ActionForm>
            </div>
        </li>
    }
}

/// What the last restore or purge did, or why it was refused.
#[component]
pub fn DeletedOutcome(
    purge: ServerAction<PurgeListing>,
    #[prop(optional)] restore: Option<ServerAction<RestoreListing>>,
) -> impl IntoView {
    view! {
        <FormDone action=purge message="Purged: its files are gone for good." />
        <FieldError result=purge.value() field="confirm" />
        <FormError result=purge.value() beside=&["confirm"] />
        {restore.map(|restore| view! {
            <FormDone action=restore message="Restored. It is hidden from the catalog until you list it again in its settings." />
            <FormError result=restore.value() />
        })}
    }
}
