//! A listing's settings page (`/{owner}/{slug}/settings`), for its publishers: edit the
//! description and card, show or hide it in the catalog, choose what it is offered under,
//! delete it.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_params_map};

use crate::api::{get_listing_settings, DeleteListing, SetListingPublished, UpdateListing};
use crate::components::forms::{kept, refusal, FieldError, FormDone, FormError};
use crate::components::offer_editor::OfferEditor;
use crate::pages::publish::TASKS;
use crate::wire::ListingSettings;

#[component]
pub fn ListingSettingsPage() -> impl IntoView {
    let params = use_params_map();
    let update = ServerAction::<UpdateListing>::new();
    let visibility = ServerAction::<SetListingPublished>::new();
    let settings = Resource::new(
        move || {
            let p = params.read();
            (
                p.get("owner").unwrap_or_default(),
                p.get("slug").unwrap_or_default(),
                update.version().get(),
                visibility.version().get(),
            )
        },
        |(owner, slug, _, _)| get_listing_settings(owner, slug),
    );
    view! {
        <Title text="Model settings" />
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match settings.await {
                    Ok(settings) => view! { <SettingsView settings update visibility /> }.into_any(),
                    Err(err) => refusal(err),
                }
            })}
        </Transition>
    }
}

#[component]
fn SettingsView(
    settings: ListingSettings,
    update: ServerAction<UpdateListing>,
    visibility: ServerAction<SetListingPublished>,
) -> impl IntoView {
    let delete = ServerAction::<DeleteListing>::new();
    let ListingSettings {
        owner,
        slug,
        name,
        summary,
        task,
        tags,
        card,
        is_published,
        published_versions,
    } = settings;
    let model_href = format!("/{owner}/{slug}");
    let (offers_owner, offers_slug) = (owner.clone(), slug.clone());
    let upload_href = format!("{model_href}/upload");
    let settings_href = format!("{model_href}/settings");
    let title = format!("{owner}/{slug}");
    let confirm_label = format!("Type {slug} to confirm");
    // Every form names the listing it acts on.
    let ids = move || {
        view! {
            <input type="hidden" name="owner" value=owner.clone() />
            <input type="hidden" name="slug" value=slug.clone() />
        }
    };
    // Each form's children are moved into it.
    let (ids_edit, ids_visibility, ids_delete) = (ids.clone(), ids.clone(), ids);
    view! {
        <div class="upload-head">
            <p class="crumbs"><A href=model_href.clone()>{title}</A></p>
            <h1>{format!("Settings of {name}")}</h1>
            <nav class="tabs" aria-label="Model">
                <A href=model_href exact=true>"Model page"</A>
                <A href=upload_href exact=true>"Files and versions"</A>
                <A href=settings_href exact=true>"Settings"</A>
            </nav>
        </div>
        <section class="panel">
            <h2>"Description"</h2>
            <ActionForm action=update attr:class="stack-form" attr:data-testid="listing-form">
                {ids_edit()}
                <label>
                    "Name"
                    <input type="text" name="name" required maxlength="120" value={kept::<UpdateListing>("name").unwrap_or(name)} data-testid="name" />
                    <FieldError result=update.value() field="name" />
                </label>
                <label>
                    "Summary"
                    <input type="text" name="summary" maxlength="300" value={kept::<UpdateListing>("summary").unwrap_or(summary)} data-testid="summary" />
                    <FieldError result=update.value() field="summary" />
                </label>
                <div class="form-row">
                    <label>
                        "Task"
                        <select name="task" data-testid="task">
                            {TASKS.iter().map(|(value, label)| view! {
                                <option value=*value selected=task == *value>{*label}</option>
                            }).collect_view()}
                        </select>
                        <FieldError result=update.value() field="task" />
                    </label>
                    <label>
                        "Tags"
                        <input type="text" name="tags" value={kept::<UpdateListing>("tags").unwrap_or(tags)} data-testid="tags" />
                        <span class="hint">"Separated by commas."</span>
                        <FieldError result=update.value() field="tags" />
                    </label>
                </div>
                <label>
                    "Model card (Markdown, Hugging Face-style YAML front matter)"
                    <textarea name="card" rows="14" class="card-editor" data-testid="card">{kept::<UpdateListing>("card").unwrap_or(card)}</textarea>
                    <FieldError result=update.value() field="card" />
                    <span class="hint">"A "<code>"demo:"</code>" block (file, task, labels) names the ONNX file anyone may try and download; it is marked when a version is published."</span>
                </label>
                <FormError result=update.value() beside=&["name", "summary", "task", "tags", "card"] />
                <FormDone action=update message="Saved." />
                <button type="submit" class="button" data-testid="save-listing">"Save changes"</button>
            </ActionForm>
        </section>
        <section class="panel">
            <h2>"Visibility"</h2>
            <p data-testid="visibility">
                {if is_published {
                    "Listed in the catalog: anyone can find it."
                } else if published_versions == 0 {
                    "Draft: only its publishers see it. Publish a version to list it."
                } else {
                    "Hidden: only its publishers see it."
                }}
            </p>
            <ActionForm action=visibility attr:class="inline-form">
                {ids_visibility()}
                <input type="hidden" name="published" value=if is_published { "false" } else { "true" } />
                <button type="submit" class="button button-secondary" data-testid="toggle-published"
                    disabled=!is_published && published_versions == 0>
                    {if is_published { "Hide from the catalog" } else { "List in the catalog" }}
                </button>
            </ActionForm>
            <FormError result=visibility.value() />
        </section>
        <OfferEditor owner=offers_owner slug=offers_slug />
        <section class="panel danger-zone">
            <h2>"Delete this model"</h2>
            <p>"It disappears from the catalog and every page at once. Until it is purged you can restore it from your account's Deleted models page."</p>
            <ActionForm action=delete attr:class="inline-form">
                {ids_delete()}
                <label>
                    {confirm_label}
                    <input type="text" name="confirm" required autocomplete="off" data-testid="confirm-delete" />
                </label>
                <button type="submit" class="button button-danger" data-testid="delete-listing">"Delete model"</button>
            </ActionForm>
            <FormError result=delete.value() />
        </section>
    }
}
