use leptos::prelude::*;
use leptos_meta::{Meta, Title};
use leptos_router::{components::A, hooks::use_params_map};

use crate::api::get_model;
use crate::components::copy::CopyButton;
use crate::components::license_badge::{LicenseTag, PriceTag};
use crate::components::offers::OfferList;
use crate::pages::not_found::NotFound;
use crate::wire::{
    format_size, CardFacts, DemoPanel, FileEntry, LicenseBadge, ModelDetail, VersionEntry,
};

#[component]
pub fn ModelPage() -> impl IntoView {
    let params = use_params_map();
    let key = move || {
        let p = params.read();
        (
            p.get("owner").unwrap_or_default(),
            p.get("slug").unwrap_or_default(),
        )
    };
    let detail = Resource::new(key, |(owner, slug)| get_model(owner, slug));
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading model…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(Some(detail)) => view! { <ModelView detail /> }.into_any(),
                    Ok(None) => view! { <NotFound /> }.into_any(),
                    Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ModelView(detail: ModelDetail) -> impl IntoView {
    let ModelDetail {
        summary: model,
        card_html,
        facts,
        versions,
        can_edit,
        offers,
        demo,
    } = detail;
    let owner_href = format!("/{}", model.owner);
    let edit_links = can_edit.then(|| {
        let base = format!("/{}/{}", model.owner, model.slug);
        view! {
            <div class="publisher-links">
                <A href=format!("{base}/upload") attr:class="button button-secondary button-small">"Files and versions"</A>
                <A href=format!("{base}/settings") attr:class="button button-secondary button-small" attr:data-testid="listing-settings">"Settings"</A>
            </div>
        }
    });
    let mut versions = versions.into_iter();
    let latest = versions.next();
    let older: Vec<VersionEntry> = versions.collect();
    view! {
        <Title text=model.name.clone() />
        <Meta name="description" content=model.summary.clone() />
        <nav class="breadcrumb" aria-label="Breadcrumb">
            <A href=owner_href>{model.owner.clone()}</A>
            " / "
            <span>{model.slug.clone()}</span>
        </nav>
        <header class="model-head">
            {edit_links}
            <h1>{model.name.clone()}</h1>
            <p class="lede">{model.summary.clone()}</p>
            <div class="model-meta">
                <span class="task">{model.task.clone()}</span>
                <LicenseTag license=model.license.clone() />
                {model.tags.iter().map(|t| view! { <span class="tag">{t.clone()}</span> }).collect_view()}
                <span class="downloads">{format!("↓ {} downloads", model.downloads)}</span>
            </div>
        </header>
        <div class="model-layout">
            <div class="model-main">
                {demo.map(|demo| view! { <TryPanel demo /> })}
                <section aria-labelledby="files-heading">
                    <h2 id="files-heading">
                        "Files"
                        {latest.as_ref().map(|v| view! { <span class="version-pill">{format!("v{}", v.version)}</span> })}
                    </h2>
                    {match latest.clone() {
                        Some(v) => view! { <FileTable files=v.files /> }.into_any(),
                        None => view! { <p class="muted">"No published version yet."</p> }.into_any(),
                    }}
                </section>
                <article class="card-body prose" inner_html=card_html></article>
            </div>
            <aside class="model-side">
                <section class="panel license-panel" data-testid="license-panel">
                    <h2>"License"</h2>
                    <p class="price-big"><PriceTag license=model.license.clone() /></p>
                    {latest.as_ref().map(|v| view! { <LicenseAdds license=model.license.clone() files=v.files.clone() /> })}
                    <OfferList offers />
                </section>
                <Facts facts />
                <section class="panel">
                    <h2>"Versions"</h2>
                    <ol class="versions">
                        {latest.map(|v| view! { <VersionItem version=v latest=true /> })}
                        {older.into_iter().map(|v| view! { <VersionItem version=v latest=false /> }).collect_view()}
                    </ol>
                </section>
            </aside>
        </div>
    }
    .into_any()
}

/// The "Try it" panel: `/try.js` builds the widget for the demo's task when it is opened, and
/// runs the demo file in a worker (`/try-worker.js`) with the runner's own wasm bundle, so the
/// page itself loads no runner code.
#[component]
fn TryPanel(demo: DemoPanel) -> impl IntoView {
    view! {
        <section class="panel try-panel" aria-labelledby="try-heading" data-testid="try-panel"
            data-try-demo=demo.url data-try-sha256=demo.sha256 data-try-task=demo.task.clone()
            data-try-labels=demo.labels_url data-try-vocab=demo.vocab_url data-try-tokenizer=demo.tokenizer_url data-try-input=demo.preprocessing>
            <h2 id="try-heading">"Try it"</h2>
            <p class="muted">
                {format!("Runs the {} demo ({}) in your browser, on WebGPU or on the CPU: nothing you enter leaves this page.", demo.task, format_size(demo.size))}
            </p>
            <button type="button" class="button" data-try-open data-testid="try-open">"Try it"</button>
            <noscript><p class="muted">"Trying a model in the page needs JavaScript."</p></noscript>
            <div class="try-body" data-try-body></div>
        </section>
    }
}

/// What is free to try and what a license adds, for a listing that is not open: the buyer
/// should know what they pay for before they choose an offer.
#[component]
fn LicenseAdds(license: LicenseBadge, files: Vec<FileEntry>) -> impl IntoView {
    if matches!(
        license,
        LicenseBadge::Open { .. } | LicenseBadge::Unavailable
    ) {
        return None;
    }
    let free: Vec<&str> = files
        .iter()
        .filter(|f| f.is_demo)
        .map(|f| f.path.as_str())
        .collect();
    let demo = (!free.is_empty()).then(|| free.join(", "));
    // The card is on the page already; it is not what a license sells.
    let sold: Vec<&FileEntry> = files
        .iter()
        .filter(|f| !f.is_demo && f.path != "README.md")
        .collect();
    let size: i64 = sold.iter().map(|f| f.size).sum();
    let names = sold
        .iter()
        .map(|f| f.path.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    Some(view! {
        <div class="license-adds" data-testid="license-adds">
            {demo.map(|paths| view! { <p>"Free to try: " <code>{paths}</code> ", the demo."</p> })}
            <p>
                {format!("A license adds {} file{} ({}): ", sold.len(), if sold.len() == 1 { "" } else { "s" }, format_size(size))}
                <span class="license-adds-files">{names}</span>
            </p>
        </div>
    })
}

#[component]
fn FileTable(files: Vec<FileEntry>) -> impl IntoView {
    view! {
        <div class="table-scroll">
            <table class="files stack-on-phone" data-testid="files">
                <thead>
                    <tr>
                        <th scope="col">"File"</th>
                        <th scope="col">"Format"</th>
                        <th scope="col">"Details"</th>
                        <th scope="col" class="num">"Size"</th>
                        <th scope="col">"SHA-256"</th>
                        <th scope="col"><span class="visually-hidden">"Download"</span></th>
                    </tr>
                </thead>
                <tbody>
                    {files
                        .into_iter()
                        .map(|f| {
                            view! {
                                <tr>
                                    <td class="file-name">
                                        {f.path.clone()}
                                        {f.is_demo.then(|| view! { <span class="badge badge-demo" title="Public demo artifact: anyone may download it">"demo"</span> })}
                                    </td>
                                    <td data-label="Format">{f.format.clone()}</td>
                                    <td class="file-details" data-label=(!f.details.is_empty()).then_some("Details")>{f.details.clone()}</td>
                                    <td class="num" data-label="Size">{format_size(f.size)}</td>
                                    <td class="sha-cell" data-label="SHA-256">
                                        // The first 12 digits identify a file at a glance; the whole
                                        // hash opens on demand and copies in one click.
                                        <details class="sha">
                                            <summary title="Show the whole SHA-256"><code>{f.sha256.chars().take(12).collect::<String>()}"…"</code></summary>
                                            <code class="sha-full" data-testid="sha256">{f.sha256.clone()}</code>
                                        </details>
                                        <CopyButton text=f.sha256.clone() />
                                    </td>
                                    <td class="file-get">
                                        {match f.download_url.clone() {
                                            Some(url) => view! {
                                                <a class="button button-small" href=url rel="external" download=f.path.clone()
                                                    data-testid="download">"Download"</a>
                                            }.into_any(),
                                            None => view! {
                                                <span class="muted" title="Needs a license for this model">"License needed"</span>
                                            }.into_any(),
                                        }}
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn Facts(facts: CardFacts) -> impl IntoView {
    let rows: Vec<(&'static str, String)> = [
        ("License", facts.license.into_iter().collect::<Vec<_>>()),
        ("Library", facts.library.into_iter().collect()),
        ("Datasets", facts.datasets),
        ("Languages", facts.languages),
        ("Base model", facts.base_models),
    ]
    .into_iter()
    .filter(|(_, values)| !values.is_empty())
    .map(|(name, values)| (name, values.join(", ")))
    .collect();
    (!rows.is_empty()).then(|| {
        view! {
            <section class="panel">
                <h2>"Model card"</h2>
                <dl class="facts">
                    {rows.into_iter().map(|(k, v)| view! { <dt>{k}</dt><dd>{v}</dd> }).collect_view()}
                </dl>
            </section>
        }
    })
}

#[component]
fn VersionItem(version: VersionEntry, latest: bool) -> impl IntoView {
    view! {
        <li>
            <strong>{format!("v{}", version.version)}</strong>
            {latest.then(|| view! { <span class="badge">"latest"</span> })}
            <span class="muted">" · " {version.published_on.clone()}</span>
            <p class="changelog">{version.changelog.clone()}</p>
        </li>
    }
}
