//! `bazaar push`: uploads a folder as a version of a model through the REST API, creating
//! the model and the version when missing, with a progress bar per file. Each file goes up
//! in bounded requests; after a dropped connection it asks the server for the offset and
//! continues, and a rerun after an interruption resumes the files still in progress.
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use futures::TryStreamExt;
use indicatif::{MultiProgress, ProgressBar};
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::file_transfer::{file_bar, sha256_of};

/// Bytes per request: bounded memory on both sides, and a dropped connection costs at most
/// this much to resend.
const CHUNK: u64 = 64 << 20;
const RETRIES: u32 = 8;

pub struct Push {
    pub dir: PathBuf,
    pub owner: String,
    pub slug: String,
    pub version: String,
    pub publish: bool,
    /// The offer to list the model under when it has none yet (the REST API's offer body).
    pub offer: Option<Value>,
    pub endpoint: String,
    pub token: String,
}

struct Api {
    client: Client,
    base: String,
    token: String,
}

impl Api {
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Response> {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request
            .send()
            .await
            .with_context(|| format!("could not reach {}", self.base))
    }
}

/// The server's refusal, as it worded it.
async fn refusal(response: Response, doing: &str) -> anyhow::Error {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let message = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_owned))
        .unwrap_or(text);
    anyhow!("{doing}: {message} ({status})")
}

pub async fn run(push: Push) -> anyhow::Result<()> {
    let api = Api {
        client: Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()?,
        base: push.endpoint.trim_end_matches('/').to_owned(),
        token: push.token.clone(),
    };
    let files = list_files(&push.dir)?;
    if files.is_empty() {
        bail!("{} has no files to push", push.dir.display());
    }
    let model_path = format!("/api/v1/models/{}/{}", push.owner, push.slug);
    let existing = ensure_model(&api, &push, &model_path).await?;
    ensure_offer(&api, &push, &model_path).await?;
    let version = existing["versions"]
        .as_array()
        .and_then(|versions| {
            versions
                .iter()
                .find(|v| v["version"] == push.version.as_str())
        })
        .cloned();
    let present: Vec<(String, String)> = match &version {
        Some(v) if v["published"] == true => {
            bail!(
                "version {} of {}/{} is published and cannot change",
                push.version,
                push.owner,
                push.slug
            )
        }
        Some(v) => v["files"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| {
                (
                    f["path"].as_str().unwrap_or_default().to_owned(),
                    f["sha256"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect(),
        None => {
            let response = api
                .call(
                    Method::POST,
                    &format!("{model_path}/versions"),
                    Some(json!({ "version": push.version })),
                )
                .await?;
            if !response.status().is_success() {
                return Err(refusal(response, "creating the version").await);
            }
            Vec::new()
        }
    };

    let bars = MultiProgress::new();
    for (relative, full) in &files {
        let size = tokio::fs::metadata(full).await?.len();
        let bar = file_bar(&bars, size, relative);
        let sha256 = sha256_of(full).await?;
        match present.iter().find(|(path, _)| path == relative) {
            Some((_, existing)) if *existing == sha256 => {
                bar.finish_with_message(format!("{relative} (already there)"));
                continue;
            }
            Some(_) => bail!(
                "{relative} is already in version {} with different contents",
                push.version
            ),
            None => {}
        }
        upload_file(
            &api,
            &push,
            &model_path,
            relative,
            full,
            size,
            &sha256,
            &bar,
        )
        .await?;
        bar.finish_with_message(format!("{relative} ✓"));
    }
    if push.publish {
        let response = api
            .call(
                Method::POST,
                &format!("{model_path}/versions/{}/publish", push.version),
                None,
            )
            .await?;
        if !response.status().is_success() {
            return Err(refusal(response, "publishing the version").await);
        }
        println!("published {}/{} {}", push.owner, push.slug, push.version);
    } else {
        println!(
            "uploaded {} files to {}/{} {} (a draft; --publish publishes it)",
            files.len(),
            push.owner,
            push.slug,
            push.version
        );
    }
    Ok(())
}

/// The model as its publisher sees it, created first when missing (named after its slug;
/// a README.md in the folder becomes its card).
async fn ensure_model(api: &Api, push: &Push, model_path: &str) -> anyhow::Result<Value> {
    let response = api.call(Method::GET, model_path, None).await?;
    if response.status() == StatusCode::NOT_FOUND {
        let card = std::fs::read_to_string(push.dir.join("README.md")).unwrap_or_default();
        let body = json!({
            "owner": push.owner,
            "slug": push.slug,
            "name": push.slug,
            "task": card_task(&card).unwrap_or_else(|| "other".to_owned()),
            "card": card,
        });
        let created = api.call(Method::POST, "/api/v1/models", Some(body)).await?;
        if !created.status().is_success() {
            return Err(refusal(created, "creating the model").await);
        }
        let again = api.call(Method::GET, model_path, None).await?;
        return Ok(again.json().await?);
    }
    if !response.status().is_success() {
        return Err(refusal(response, "looking up the model").await);
    }
    Ok(response.json().await?)
}

/// Lists the model under `--license` when it has no offer yet, before any byte goes up, so a
/// refused offer costs nothing. A model that has offers keeps them: they change on its
/// settings page or through the offers API.
async fn ensure_offer(api: &Api, push: &Push, model_path: &str) -> anyhow::Result<()> {
    let offers_path = format!("{model_path}/offers");
    let response = api.call(Method::GET, &offers_path, None).await?;
    if !response.status().is_success() {
        return Err(refusal(response, "looking up the model's offers").await);
    }
    let offers: Value = response.json().await?;
    let has_offers = offers["offers"].as_array().is_some_and(|o| !o.is_empty());
    match (&push.offer, has_offers) {
        (Some(offer), false) => {
            let added = api.call(Method::POST, &offers_path, Some(offer.clone())).await?;
            if !added.status().is_success() {
                return Err(refusal(added, "adding the offer").await);
            }
            let added: Value = added.json().await?;
            println!("offered under: {}", added["description"].as_str().unwrap_or("?"));
        }
        (Some(_), true) => println!(
            "the model already has offers; --license is ignored (change them on its settings page)"
        ),
        (None, false) if push.publish => println!(
            "note: the model has no offer, so it shows as unavailable; pass --license open --spdx MIT (or gated, paid, subscription)"
        ),
        (None, _) => {}
    }
    Ok(())
}

/// `pipeline_tag` from a model card's front matter.
fn card_task(card: &str) -> Option<String> {
    let front = card.strip_prefix("---")?.split("\n---").next()?;
    front.lines().find_map(|line| {
        let value = line
            .strip_prefix("pipeline_tag:")?
            .trim()
            .trim_matches(['"', '\'']);
        (!value.is_empty()).then(|| value.to_owned())
    })
}

/// Every regular file under `dir` (hidden ones skipped), as (path with `/`, full path).
fn list_files(dir: &Path) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in
            std::fs::read_dir(&current).with_context(|| format!("reading {}", current.display()))?
        {
            let entry = entry?;
            let name = entry.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                pending.push(path);
            } else if entry.file_type()?.is_file() {
                let relative = path
                    .strip_prefix(dir)?
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                found.push((relative, path));
            }
        }
    }
    found.sort();
    Ok(found)
}

#[allow(clippy::too_many_arguments)]
async fn upload_file(
    api: &Api,
    push: &Push,
    model_path: &str,
    relative: &str,
    full: &Path,
    size: u64,
    sha256: &str,
    bar: &ProgressBar,
) -> anyhow::Result<()> {
    let declared = json!({ "path": relative, "size": size, "sha256": sha256 });
    let response = api
        .call(
            Method::POST,
            &format!("{model_path}/versions/{}/uploads", push.version),
            Some(declared),
        )
        .await?;
    if !response.status().is_success() {
        return Err(refusal(response, &format!("uploading {relative}")).await);
    }
    let started: Value = response.json().await?;
    let id = started["id"]
        .as_str()
        .ok_or_else(|| anyhow!("the server gave no upload id"))?
        .to_owned();
    let mut offset = started["offset"].as_u64().unwrap_or(0);
    bar.set_position(offset);
    if size == 0 {
        return match send_chunk(api, &id, full, 0, 0, bar).await {
            Ok(_) => Ok(()),
            Err(ChunkError::Refused(e) | ChunkError::Dropped(e)) => Err(e),
        };
    }
    let mut failures = 0;
    while offset < size {
        let len = CHUNK.min(size - offset);
        match send_chunk(api, &id, full, offset, len, bar).await {
            Ok(next) => {
                offset = next;
                failures = 0;
            }
            Err(ChunkError::Refused(e)) => return Err(e),
            Err(ChunkError::Dropped(e)) => {
                failures += 1;
                if failures > RETRIES {
                    return Err(e.context(format!(
                        "uploading {relative}: giving up after {RETRIES} retries"
                    )));
                }
                tokio::time::sleep(Duration::from_millis(250 << failures.min(5))).await;
                offset = server_offset(api, &id).await.unwrap_or(offset);
                bar.set_position(offset);
            }
        }
    }
    Ok(())
}

enum ChunkError {
    /// The server said no: retrying will not help.
    Refused(anyhow::Error),
    /// The connection broke: ask for the offset and go on.
    Dropped(anyhow::Error),
}

/// Sends `len` bytes from `offset`; the new offset on success.
async fn send_chunk(
    api: &Api,
    id: &str,
    full: &Path,
    offset: u64,
    len: u64,
    bar: &ProgressBar,
) -> Result<u64, ChunkError> {
    let dropped = |e: anyhow::Error| ChunkError::Dropped(e);
    let mut file = tokio::fs::File::open(full)
        .await
        .map_err(|e| ChunkError::Refused(e.into()))?;
    file.seek(std::io::SeekFrom::Start(offset))
        .await
        .map_err(|e| ChunkError::Refused(e.into()))?;
    let progress = bar.clone();
    let stream = tokio_util::io::ReaderStream::with_capacity(file.take(len), 256 << 10)
        .inspect_ok(move |chunk| progress.inc(chunk.len() as u64));
    let response = api
        .client
        .patch(format!("{}/api/v1/uploads/{id}", api.base))
        .bearer_auth(&api.token)
        .header("upload-offset", offset)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/offset+octet-stream",
        )
        .header(reqwest::header::CONTENT_LENGTH, len)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .map_err(|e| dropped(e.into()))?;
    let status = response.status();
    if status.is_success() {
        let body: Value = response.json().await.map_err(|e| dropped(e.into()))?;
        return Ok(body["offset"].as_u64().unwrap_or(offset + len));
    }
    if status == StatusCode::CONFLICT || status.is_server_error() {
        return Err(dropped(anyhow!("the server answered {status}")));
    }
    Err(ChunkError::Refused(refusal(response, "uploading").await))
}

async fn server_offset(api: &Api, id: &str) -> anyhow::Result<u64> {
    let response = api
        .call(Method::HEAD, &format!("/api/v1/uploads/{id}"), None)
        .await?;
    response
        .headers()
        .get("upload-offset")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| anyhow!("no offset for upload {id} ({})", response.status()))
}
