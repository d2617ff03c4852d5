//! The publisher's pages: a new listing, and the upload page of its draft version.
use inspect::names::SLUG_RULE;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_params_map};

use crate::api::{
    get_account, offer_choices, upload_overview, CreateDraftVersion, CreateModel, PublishDraft,
    RemoveDraftFile,
};
use crate::components::forms::{kept, refusal, FieldError, FormDone, FormError};
use crate::components::offer_fields::OfferFields;
use crate::uploader::{format_eta, Row, RowState, Target};
use crate::wire::{format_size, DraftFile, ListingDraft};

/// Tasks offered in the form; the card's `pipeline_tag` may say more.
pub(crate) const TASKS: [(&str, &str); 8] = [
    ("image-classification", "Image classification"),
    ("object-detection", "Object detection"),
    ("text-classification", "Text classification"),
    ("text-embedding", "Text embedding"),
    ("text-generation", "Text generation"),
    ("tabular", "Tabular"),
    ("audio", "Audio"),
    ("other", "Other"),
];

const CARD_TEMPLATE: &str = "---\nlicense: apache-2.0\ntags: []\n---\n\n# My model\n\nWhat it does, how it was trained, and how to use it.\n";

/// The fields of the new-model form, whose errors show beside them (the offer's included).
const NEW_MODEL_FIELDS: &[&str] = &[
    "slug", "name", "summary", "task", "tags", "card", "kind", "spdx", "price", "currency", "seat",
    "covers", "interval", "approval", "terms",
];

#[component]
pub fn NewModelPage() -> impl IntoView {
    let create = ServerAction::<CreateModel>::new();
    let owners = Resource::new(
        || (),
        |_| async move {
            let account = get_account().await?;
            let mut owners = vec![account.username.clone()];
            // The server says where the account publishes: the organizations it manages.
            owners.extend(account.managed_orgs.into_iter().map(|o| o.name));
            let choices = offer_choices().await?;
            Ok::<_, crate::error::AppError>((account.is_publisher, owners, choices))
        },
    );
    view! {
        <Title text="New model" />
        <h1>"New model"</h1>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match owners.await {
                    Ok((false, _, _)) => view! {
                        <section class="panel">
                            <p>"Turn on publishing in your account settings to list models."</p>
                            <A href="/settings" attr:class="button">"Account settings"</A>
                        </section>
                    }.into_any(),
                    Ok((true, owners, choices)) => {
                        let kept_task = kept::<CreateModel>("task");
                        view! {
                        <section class="panel">
                            <ActionForm action=create attr:class="stack-form" attr:data-testid="new-model-form">
                                <div class="form-row">
                                    <label>
                                        "Owner"
                                        <select name="owner" data-testid="owner">
                                            {owners.into_iter().map(|o| view! { <option value=o.clone()>{o.clone()}</option> }).collect_view()}
                                        </select>
                                    </label>
                                    <label>
                                        "Slug"
                                        <input type="text" name="slug" required maxlength=SLUG_RULE.max
                                            pattern=SLUG_RULE.html_pattern()
                                            placeholder="my-model" autocomplete="off" data-testid="slug" value={kept::<CreateModel>("slug")} />
                                        <span class="hint">{SLUG_RULE.hint()} " Part of the address."</span>
                                        <FieldError result=create.value() field="slug" />
                                    </label>
                                </div>
                                <label>
                                    "Name"
                                    <input type="text" name="name" required maxlength="120" data-testid="name" value={kept::<CreateModel>("name")} />
                                    <FieldError result=create.value() field="name" />
                                </label>
                                <label>
                                    "Summary"
                                    <input type="text" name="summary" maxlength="300" placeholder="One line for the catalog" data-testid="summary" value={kept::<CreateModel>("summary")} />
                                    <FieldError result=create.value() field="summary" />
                                </label>
                                <div class="form-row">
                                    <label>
                                        "Task"
                                        // No task is chosen for the publisher: the browser asks for one.
                                        <select name="task" data-testid="task" required>
                                            <option value="" disabled selected=kept_task.is_none()>"Choose a task…"</option>
                                            {TASKS.iter().map(|(value, label)| view! {
                                                <option value=*value selected=kept_task.as_deref() == Some(*value)>{*label}</option>
                                            }).collect_view()}
                                        </select>
                                        <FieldError result=create.value() field="task" />
                                    </label>
                                    <label>
                                        "Tags"
                                        <input type="text" name="tags" placeholder="onnx, vision, small" data-testid="tags" value={kept::<CreateModel>("tags")} />
                                        <span class="hint">"Separated by commas."</span>
                                        <FieldError result=create.value() field="tags" />
                                    </label>
                                </div>
                                <label>
                                    "Model card (Markdown, Hugging Face-style YAML front matter)"
                                    <textarea name="card" rows="12" class="card-editor" data-testid="card">{kept::<CreateModel>("card").unwrap_or_else(|| CARD_TEMPLATE.to_owned())}</textarea>
                                    <FieldError result=create.value() field="card" />
                                </label>
                                <OfferFields result=create.value() choices keep={kept::<CreateModel>} />
                                <FormError result=create.value() beside=NEW_MODEL_FIELDS />
                                <button type="submit" class="button" data-testid="create-model">"Create and upload files"</button>
                            </ActionForm>
                        </section>
                    }.into_any()
                    },
                    Err(err) => refusal(err),
                }
            })}
        </Suspense>
    }
}

#[component]
pub fn UploadPage() -> impl IntoView {
    let params = use_params_map();
    let owner = move || params.read().get("owner").unwrap_or_default();
    let slug = move || params.read().get("slug").unwrap_or_default();
    let new_version = ServerAction::<CreateDraftVersion>::new();
    let remove = ServerAction::<RemoveDraftFile>::new();
    // Bumped when a file is stored, so the list of files reloads.
    let stored = RwSignal::new(0u32);
    let overview = Resource::new(
        move || {
            let changes = (
                new_version.version().get(),
                remove.version().get(),
                stored.get(),
            );
            (owner(), slug(), changes)
        },
        |(owner, slug, _)| upload_overview(owner, slug),
    );
    // The rows outlive reloads of the overview.
    let rows = RwSignal::new(Vec::<Row>::new());
    // False in the server's HTML and until the page has hydrated.
    let hydrated = RwSignal::new(false);
    Effect::new(move || hydrated.set(true));
    let page = StoredValue::new(Owner::current());
    view! {
        <Title text="Upload files" />
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match overview.await {
                    Ok(overview) => view! { <UploadView overview rows stored new_version remove hydrated page /> }.into_any(),
                    Err(err) => refusal(err),
                }
            })}
        </Transition>
    }
}

#[component]
fn UploadView(
    overview: ListingDraft,
    rows: RwSignal<Vec<Row>>,
    stored: RwSignal<u32>,
    new_version: ServerAction<CreateDraftVersion>,
    remove: ServerAction<RemoveDraftFile>,
    hydrated: RwSignal<bool>,
    page: StoredValue<Option<Owner>>,
) -> impl IntoView {
    let publish = ServerAction::<PublishDraft>::new();
    let model_href = format!("/{}/{}", overview.owner, overview.slug);
    let ListingDraft {
        owner,
        slug,
        name,
        is_published,
        draft,
        files,
        published,
    } = overview;
    let has_files = !files.is_empty();
    let (owner2, slug2) = (owner.clone(), slug.clone());
    view! {
        <div class="upload-head">
            <p class="crumbs">
                <A href=model_href.clone()>{format!("{owner}/{slug}")}</A>
                " · "
                <A href=format!("{model_href}/settings") attr:data-testid="listing-settings">"Settings"</A>
            </p>
            <h1>{format!("Upload files to {name}")}</h1>
            <p class="muted">
                {if is_published { "Listed in the catalog." } else { "Draft: only you can see it until a version is published." }}
                {(!published.is_empty()).then(|| format!(" Published versions: {}.", published.join(", ")))}
            </p>
        </div>
        {match draft {
            Some(version) => {
                let target = Target { owner: owner.clone(), slug: slug.clone(), version: version.clone() };
                let files_target = target.clone();
                view! {
                    <section class="panel">
                        <h2>"Version " <span class="version-pill" data-testid="draft-version">{version.clone()}</span></h2>
                        <DropZone target rows stored hydrated page />
                        <UploadRows rows />
                    </section>
                    <section class="panel">
                        <h2>"Files in this version"</h2>
                        <FormDone action=remove message="File removed." />
                        <FormError result=remove.value() />
                        <StoredFiles files target=files_target remove />
                    </section>
                    <section class="panel publish-panel">
                        <ActionForm action=publish attr:class="inline-form">
                            <input type="hidden" name="owner" value=owner.clone() />
                            <input type="hidden" name="slug" value=slug.clone() />
                            <input type="hidden" name="version" value=version.clone() />
                            <button type="submit" class="button" data-testid="publish-version"
                                disabled=move || !has_files || rows.read().iter().any(Row::is_active)>
                                {format!("Publish version {version}")}
                            </button>
                        </ActionForm>
                        <p class="muted">"A published version is immutable: no file can be added, changed or removed."</p>
                        <FormError result=publish.value() />
                    </section>
                }.into_any()
            }
            None => view! {
                <section class="panel">
                    <p>"Every version is published. Start a new version to upload files."</p>
                </section>
            }.into_any(),
        }}
        <section class="panel">
            <h2>"Start another version"</h2>
            <ActionForm action=new_version attr:class="inline-form version-form">
                <input type="hidden" name="owner" value=owner2 />
                <input type="hidden" name="slug" value=slug2 />
                <label>
                    "Version"
                    <input type="text" name="version" required placeholder="1.1.0" maxlength="64" data-testid="new-version" />
                </label>
                <label>
                    "Changelog"
                    <input type="text" name="changelog" placeholder="What changed" />
                </label>
                <button type="submit" class="button button-small">"Create version"</button>
            </ActionForm>
            <FormError result=new_version.value() />
        </section>
    }
}

/// The drop zone and file picker; without JavaScript it says how else to upload.
#[component]
fn DropZone(
    target: Target,
    rows: RwSignal<Vec<Row>>,
    stored: RwSignal<u32>,
    hydrated: RwSignal<bool>,
    page: StoredValue<Option<Owner>>,
) -> impl IntoView {
    let dragging = RwSignal::new(false);
    let forgotten = RwSignal::new(Vec::<String>::new());
    #[cfg(feature = "hydrate")]
    {
        let target = target.clone();
        Effect::new(move || forgotten.set(crate::uploader::forgotten_uploads(&target)));
    }
    let target = StoredValue::new(target);
    let add = move |list: Option<web_sys_files::FileList>| {
        target.with_value(|target| {
            web_sys_files::add(page.get_value(), target, list, rows, forgotten, stored)
        })
    };
    view! {
        <Show when=move || hydrated.get() fallback=|| view! {
            <div class="needs-js" data-testid="needs-js">
                <p><strong>"Uploading from the browser needs JavaScript."</strong></p>
                <p>"Turn JavaScript on for this site, or upload from a terminal with the command-line client:"</p>
                <pre><code>"BAZAAR_TOKEN=… bazaar push ./my-model --model owner/name --version 1.0.0 --publish"</code></pre>
            </div>
        }>
            <label
                class=move || if dragging.get() { "drop-zone dragging" } else { "drop-zone" }
                data-testid="drop-zone"
                on:dragover=move |ev| { ev.prevent_default(); dragging.set(true); }
                on:dragenter=move |ev| { ev.prevent_default(); dragging.set(true); }
                on:dragleave=move |_| dragging.set(false)
                on:drop=move |ev| {
                    ev.prevent_default();
                    dragging.set(false);
                    #[cfg(feature = "hydrate")]
                    add(ev.data_transfer().and_then(|d| d.files()));
                    #[cfg(not(feature = "hydrate"))]
                    let _ = (ev, add);
                }
            >
                <span class="drop-icon" aria-hidden="true">"⇪"</span>
                <span class="drop-title">"Drop files here, or click to choose"</span>
                <span class="muted">"ONNX, safetensors, GGUF, and plain files such as README, config and labels. Pickle files are refused."</span>
                <input type="file" multiple class="visually-hidden" data-testid="file-input"
                    on:change=move |ev| {
                        #[cfg(feature = "hydrate")]
                        {
                            use wasm_bindgen::JsCast;
                            let input = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok());
                            if let Some(input) = input {
                                add(input.files());
                                input.set_value("");
                            }
                        }
                        #[cfg(not(feature = "hydrate"))]
                        let _ = (ev, add);
                    } />
            </label>
            {move || {
                let names = forgotten.get();
                (!names.is_empty()).then(|| view! {
                    <p class="resume-hint" role="status" data-testid="resume-hint">
                        {format!("Unfinished from your last visit: {}. Drop the same file again to continue where it stopped.", names.join(", "))}
                    </p>
                })
            }}
        </Show>
    }
}

/// What the drop zone does with files, in the browser; nothing on the server.
mod web_sys_files {
    use leptos::prelude::*;

    #[cfg(feature = "hydrate")]
    use crate::uploader::RowState;
    use crate::uploader::{Row, Target};

    #[cfg(feature = "hydrate")]
    pub use web_sys::FileList;
    #[cfg(not(feature = "hydrate"))]
    pub struct FileList;

    #[allow(clippy::too_many_arguments)]
    pub fn add(
        page: Option<Owner>,
        target: &Target,
        list: Option<FileList>,
        rows: RwSignal<Vec<Row>>,
        forgotten: RwSignal<Vec<String>>,
        stored: RwSignal<u32>,
    ) {
        #[cfg(feature = "hydrate")]
        {
            let Some(list) = list else { return };
            for i in 0..list.length() {
                let Some(file) = list.get(i) else { continue };
                // Unique for the page's lifetime: the drop zone is rebuilt, the rows and
                // their requests (keyed by this) live on.
                static NEXT_KEY: std::sync::atomic::AtomicU64 =
                    std::sync::atomic::AtomicU64::new(0);
                let key = NEXT_KEY.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                // Owned by the page, not the drop zone: the drop zone is rebuilt each time
                // the list of stored files reloads, the rows live on.
                let make = || Row {
                    key,
                    name: StoredValue::new(file.name()),
                    size: file.size() as u64,
                    sent: RwSignal::new(0),
                    speed: RwSignal::new(0.0),
                    state: RwSignal::new(RowState::Waiting),
                };
                let row = match &page {
                    Some(page) => page.with(make),
                    None => make(),
                };
                forgotten.update(|names| names.retain(|n| *n != file.name()));
                // Newest first, right under the drop zone where the person is looking.
                rows.update(|rows| rows.insert(0, row));
                crate::uploader::start(target.clone(), file, row, stored);
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (page, target, list, rows, forgotten, stored);
    }
}

#[component]
fn UploadRows(rows: RwSignal<Vec<Row>>) -> impl IntoView {
    view! {
        <ul class="upload-rows" data-testid="upload-rows">
            <For each=move || rows.get() key=|row| row.key let:row>
                <UploadLine row />
            </For>
        </ul>
    }
}

#[component]
fn UploadLine(row: Row) -> impl IntoView {
    let name = row.name.get_value();
    let percent = move || row.percent();
    let state_class = move || match row.state.get() {
        RowState::Done { .. } => "upload-row done",
        RowState::Failed(_) => "upload-row failed",
        RowState::Cancelled => "upload-row cancelled",
        RowState::Retrying(_) => "upload-row retrying",
        _ => "upload-row",
    };
    let figures = move || {
        let sent = row.sent.get();
        let speed = row.speed.get();
        match row.state.get() {
            RowState::Waiting => "waiting…".to_owned(),
            RowState::Uploading | RowState::Retrying(_) => {
                let mut text = format!(
                    "{} of {}",
                    format_size(sent as i64),
                    format_size(row.size as i64)
                );
                if speed > 0.0 {
                    text.push_str(&format!(
                        " · {}/s · {} left",
                        format_size(speed as i64),
                        format_eta((row.size.saturating_sub(sent)) as f64 / speed)
                    ));
                }
                text
            }
            RowState::Done { format, details } => {
                let mut text = format!("{} · stored as {format}", format_size(row.size as i64));
                if !details.is_empty() {
                    text.push_str(&format!(" · {details}"));
                }
                text
            }
            RowState::Failed(_) | RowState::Cancelled => format_size(row.size as i64),
        }
    };
    let message = move || match row.state.get() {
        RowState::Failed(message) => Some(
            view! { <p class="upload-error" role="alert" data-testid="upload-error">{message}</p> }
                .into_any(),
        ),
        RowState::Retrying(message) => {
            Some(view! { <p class="upload-retry" role="status">{message}</p> }.into_any())
        }
        _ => None,
    };
    view! {
        <li class=state_class data-testid="upload-row" data-file=name.clone()>
            <div class="upload-line">
                <span class="file-name">{name.clone()}</span>
                <span class="upload-percent" data-testid="upload-percent">{move || match row.state.get() {
                    // A refused file is not a finished one: no percentage, no full bar.
                    RowState::Failed(_) => "Not stored".to_owned(),
                    RowState::Cancelled => "Cancelled".to_owned(),
                    _ => format!("{:.0}%", percent()),
                }}</span>
                {move || row.is_active().then(|| view! {
                    <button type="button" class="link-button" data-testid="cancel-upload"
                        on:click=move |_| {
                            #[cfg(feature = "hydrate")]
                            crate::uploader::cancel(row);
                        }>"Cancel"</button>
                })}
            </div>
            <progress max="100" value=move || format!("{:.1}", percent()) aria-label=format!("Upload of {name}")></progress>
            <p class="upload-figures muted">{figures}</p>
            {message}
        </li>
    }
}

#[component]
fn StoredFiles(
    files: Vec<DraftFile>,
    target: Target,
    remove: ServerAction<RemoveDraftFile>,
) -> impl IntoView {
    if files.is_empty() {
        return view! { <p class="muted" data-testid="no-files">"No files yet."</p> }.into_any();
    }
    view! {
        <div class="table-scroll">
            <table class="files stack-on-phone" data-testid="stored-files">
                <thead>
                    <tr>
                        <th scope="col">"File"</th>
                        <th scope="col">"Format"</th>
                        <th scope="col">"Details"</th>
                        <th scope="col" class="num">"Size"</th>
                        <th scope="col"><span class="visually-hidden">"Remove"</span></th>
                    </tr>
                </thead>
                <tbody>
                    {files.into_iter().map(|f| {
                        let Target { owner, slug, version } = target.clone();
                        let (row_path, shown_path, field_path) = (f.path.clone(), f.path.clone(), f.path.clone());
                        let label = format!("Remove {}", f.path);
                        let details_label = (!f.details.is_empty()).then_some("Details");
                        view! {
                        <tr data-file=row_path>
                            <td class="file-name">{shown_path}{f.is_demo.then(|| view! { <span class="badge badge-demo">"demo"</span> })}</td>
                            <td data-label="Format">{f.format}</td>
                            <td class="muted file-details" data-label=details_label>{f.details}</td>
                            <td class="num" data-label="Size">{format_size(f.size)}</td>
                            <td>
                                <ActionForm action=remove attr:class="inline-form">
                                    <input type="hidden" name="owner" value=owner />
                                    <input type="hidden" name="slug" value=slug />
                                    <input type="hidden" name="version" value=version />
                                    <input type="hidden" name="path" value=field_path />
                                    <button type="submit" class="link-button" data-testid="remove-file"
                                        aria-label=label>"Remove"</button>
                                </ActionForm>
                            </td>
                        </tr>
                    }}).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}
