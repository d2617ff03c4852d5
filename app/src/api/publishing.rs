//! Publishers' own listings: create one, see its draft version, start a version, publish it.
//! The bytes themselves go through the REST upload API (`/api/v1/uploads`), which the upload
//! page drives from the browser.
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use super::request::{client_ip, signed_in};
#[cfg(feature = "ssr")]
use crate::error::respond;
use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::wire::DraftFile;
use crate::wire::ListingDraft;

/// `tags` is comma-separated; `owner` empty means the caller. The listing's first offer comes
/// with it, so that it is never published "unavailable".
#[allow(clippy::too_many_arguments)]
#[server(endpoint = "create_model")]
pub async fn create_model(
    owner: String,
    slug: String,
    name: String,
    summary: String,
    task: String,
    tags: String,
    card: String,
    kind: Option<String>,
    spdx: Option<String>,
    price: Option<String>,
    currency: Option<String>,
    seat: Option<String>,
    covers: Option<String>,
    interval: Option<String>,
    approval: Option<String>,
    terms: Option<String>,
) -> Result<(), AppError> {
    let offer = super::licensing::OfferForm {
        kind,
        spdx,
        price,
        currency,
        seat,
        covers,
        interval,
        approval,
        terms,
    };
    let state = expect_context::<domain::AppState>();
    let caller = signed_in()?;
    let owner = match owner.trim() {
        "" => caller.user.username.clone(),
        owner => owner.to_owned(),
    };
    let tags = split_tags(&tags);
    let fields = domain::listings::ListingFields {
        name: name.trim(),
        summary: summary.trim(),
        task: task.trim(),
        tags: &tags,
        card: &card,
    };
    let listing = respond(
        domain::listings::create(
            &state,
            &caller.user,
            &owner,
            slug.trim(),
            fields,
            Some(&offer.input()),
        )
        .await,
    )?;
    leptos_axum::redirect(&format!("/{owner}/{}/upload", listing.slug));
    Ok(())
}

/// The listing as its publisher sees it on the upload page. A listing without any version
/// gets its first draft, 1.0.0, so there is somewhere to put files.
#[server(endpoint = "upload_overview")]
pub async fn upload_overview(owner: String, slug: String) -> Result<ListingDraft, AppError> {
    let state = expect_context::<domain::AppState>();
    let caller = signed_in()?;
    let (mut listing, mut versions) =
        respond(domain::listings::overview(&state, &caller.user, &owner, &slug).await)?;
    if versions.is_empty() {
        respond(
            domain::listings::create_version(&state, &caller.user, &owner, &slug, "1.0.0", "")
                .await,
        )?;
        (listing, versions) =
            respond(domain::listings::overview(&state, &caller.user, &owner, &slug).await)?;
    }
    let draft = versions
        .iter()
        .find(|(version, _)| version.published_at.is_none());
    Ok(ListingDraft {
        owner,
        slug: listing.slug,
        name: listing.name,
        is_published: listing.is_published,
        draft: draft.map(|(version, _)| version.version.clone()),
        files: draft
            .map(|(_, files)| {
                files
                    .iter()
                    .map(|f| DraftFile {
                        path: f.path.clone(),
                        size: f.size,
                        format: f.format.clone(),
                        details: file_details(f.metadata.as_ref()),
                        is_demo: f.is_demo,
                    })
                    .collect()
            })
            .unwrap_or_default(),
        published: versions
            .iter()
            .filter(|(version, _)| version.published_at.is_some())
            .map(|(version, _)| version.version.clone())
            .collect(),
    })
}

#[server(endpoint = "create_draft_version")]
pub async fn create_draft_version(
    owner: String,
    slug: String,
    version: String,
    changelog: String,
) -> Result<(), AppError> {
    let state = expect_context::<domain::AppState>();
    let caller = signed_in()?;
    respond(
        domain::listings::create_version(
            &state,
            &caller.user,
            &owner,
            &slug,
            version.trim(),
            &changelog,
        )
        .await,
    )?;
    Ok(())
}

/// Removes one file from a draft version (published versions never change).
#[server(endpoint = "remove_draft_file")]
pub async fn remove_draft_file(
    owner: String,
    slug: String,
    version: String,
    path: String,
) -> Result<(), AppError> {
    let state = expect_context::<domain::AppState>();
    let caller = signed_in()?;
    let at = domain::listings::VersionAt {
        owner: &owner,
        slug: &slug,
        version: &version,
    };
    respond(
        domain::listings::remove_draft_file(&state, &caller.user, at, &path, &client_ip()).await,
    )
}

/// Freezes the draft version and shows the listing; the browser lands on the public page.
#[server(endpoint = "publish_draft")]
pub async fn publish_draft(owner: String, slug: String, version: String) -> Result<(), AppError> {
    let state = expect_context::<domain::AppState>();
    let caller = signed_in()?;
    respond(
        domain::listings::publish_version(&state, &caller.user, &owner, &slug, &version).await,
    )?;
    leptos_axum::redirect(&format!("/{owner}/{slug}"));
    Ok(())
}

/// Tags as the forms take them: separated by commas, blanks dropped.
#[cfg(feature = "ssr")]
pub fn split_tags(tags: &str) -> Vec<String> {
    tags.split(',')
        .map(str::trim)
        .filter(|tag| !tag.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A file's stored header metadata in a few words, e.g. `opset 13 · 1.2K parameters`.
#[cfg(feature = "ssr")]
pub fn file_details(metadata: Option<&serde_json::Value>) -> String {
    use domain::formats::FileMetadata;
    let Some(metadata) = metadata
        .cloned()
        .and_then(|m| serde_json::from_value::<FileMetadata>(m).ok())
    else {
        return String::new();
    };
    let mut parts: Vec<String> = Vec::new();
    match &metadata {
        FileMetadata::Onnx(onnx) => {
            if let Some(opset) = onnx
                .opset_imports
                .iter()
                .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
            {
                parts.push(format!("opset {}", opset.version));
            }
            let io = |values: &[domain::formats::ValueInfo]| {
                values
                    .iter()
                    .map(|v| v.name.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            if !onnx.inputs.is_empty() {
                parts.push(format!("inputs: {}", io(&onnx.inputs)));
            }
            if !onnx.outputs.is_empty() {
                parts.push(format!("outputs: {}", io(&onnx.outputs)));
            }
            parts.push(format!("{} operators", onnx.operators.len()));
        }
        FileMetadata::Safetensors(st) => {
            parts.push(format!("{} tensors", st.tensor_count));
            let dtypes: Vec<&str> = st.dtypes.keys().map(String::as_str).collect();
            if !dtypes.is_empty() {
                parts.push(dtypes.join("/"));
            }
        }
        FileMetadata::Gguf(gguf) => {
            if let Some(arch) = &gguf.architecture {
                parts.push(arch.clone());
            }
            if let Some(q) = &gguf.quantization {
                parts.push(q.clone());
            }
        }
        FileMetadata::Plain => {}
    }
    if let Some(count) = metadata.parameter_count() {
        parts.push(format!("{} parameters", crate::wire::format_count(count)));
    }
    parts.join(" · ")
}
