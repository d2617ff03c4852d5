//! `bazaar pull`: downloads a version's files through the REST API into a folder, resuming a
//! partial file where it stopped (HTTP Range on `<file>.part`) and checking each file's
//! SHA-256 before it takes its name. Files the caller's license does not open are named with
//! the server's reason.
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use futures::StreamExt;
use indicatif::{MultiProgress, ProgressBar};
use reqwest::{header, Client, StatusCode};
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use crate::file_transfer::{file_bar, sha256_of};

const RETRIES: u32 = 8;

pub struct Pull {
    pub owner: String,
    pub slug: String,
    pub version: String,
    pub dir: PathBuf,
    pub endpoint: String,
    /// None: anonymous (open files and demo files only).
    pub token: Option<String>,
}

pub async fn run(pull: Pull) -> anyhow::Result<()> {
    let client = Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .build()?;
    let base = pull.endpoint.trim_end_matches('/').to_owned();
    let files_url = format!(
        "{base}/api/v1/models/{}/{}/versions/{}/files",
        pull.owner, pull.slug, pull.version
    );
    let listing = authorized(&client, &files_url, pull.token.as_deref())
        .send()
        .await
        .with_context(|| format!("could not reach {base}"))?;
    if !listing.status().is_success() {
        let status = listing.status();
        let body: Value = listing.json().await.unwrap_or_default();
        bail!(
            "{}/{}@{}: {} ({status})",
            pull.owner,
            pull.slug,
            pull.version,
            body["error"].as_str().unwrap_or("refused")
        );
    }
    let listing: Value = listing.json().await?;
    let files = listing["files"].as_array().cloned().unwrap_or_default();
    tokio::fs::create_dir_all(&pull.dir).await?;
    let bars = MultiProgress::new();
    let mut refused = Vec::new();
    for file in &files {
        let path = file["path"].as_str().unwrap_or_default();
        if file["downloadable"] != true {
            refused.push(format!(
                "{path}: {}",
                file["refusal"].as_str().unwrap_or("not yours to download")
            ));
            continue;
        }
        let target = inside(&pull.dir, path)?;
        let size = file["size"].as_u64().unwrap_or(0);
        let sha256 = file["sha256"].as_str().unwrap_or_default();
        let bar = file_bar(&bars, size, path);
        if sha256_of(&target).await.ok().as_deref() == Some(sha256) {
            bar.finish_with_message(format!("{path} (already there)"));
            continue;
        }
        let mut url = url::Url::parse(&files_url)?;
        url.path_segments_mut()
            .map_err(|_| anyhow!("{files_url} cannot take a file path"))?
            .extend(path.split('/'));
        let url = url.to_string();
        fetch(
            &client,
            &url,
            pull.token.as_deref(),
            &target,
            size,
            sha256,
            &bar,
        )
        .await?;
        bar.finish_with_message(format!("{path} ✓"));
    }
    if !refused.is_empty() {
        bail!(
            "{} of {} files were not downloaded:\n  {}",
            refused.len(),
            files.len(),
            refused.join("\n  ")
        );
    }
    Ok(())
}

fn authorized(client: &Client, url: &str, token: Option<&str>) -> reqwest::RequestBuilder {
    let request = client.get(url);
    match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    }
}

/// Downloads into `<target>.part`, continuing from its length after a dropped connection or
/// an earlier interrupted run, then checks the SHA-256 and renames it.
async fn fetch(
    client: &Client,
    url: &str,
    token: Option<&str>,
    target: &Path,
    size: u64,
    sha256: &str,
    bar: &ProgressBar,
) -> anyhow::Result<()> {
    let part = target.with_file_name(format!(
        "{}.part",
        target
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("file")
    ));
    if let Some(parent) = part.parent() {
        tokio::fs::create_dir_all(parent).await?;
    }
    let mut attempt = 0;
    loop {
        let have = tokio::fs::metadata(&part)
            .await
            .map_or(0, |m| m.len())
            .min(size);
        bar.set_position(have);
        match fetch_from(client, url, token, &part, have, bar).await {
            Ok(()) => break,
            Err(err) if attempt < RETRIES => {
                attempt += 1;
                bar.println(format!("retrying after: {err:#}"));
                tokio::time::sleep(Duration::from_millis(250 << attempt.min(5))).await;
            }
            Err(err) => return Err(err),
        }
    }
    let got = sha256_of(&part).await?;
    if got != sha256 {
        tokio::fs::remove_file(&part).await.ok();
        bail!(
            "{} arrived damaged: its SHA-256 is {got}, not {sha256}; run pull again",
            target.display()
        );
    }
    tokio::fs::rename(&part, target).await?;
    Ok(())
}

async fn fetch_from(
    client: &Client,
    url: &str,
    token: Option<&str>,
    part: &Path,
    from: u64,
    bar: &ProgressBar,
) -> anyhow::Result<()> {
    let mut request = authorized(client, url, token);
    if from > 0 {
        request = request.header(header::RANGE, format!("bytes={from}-"));
    }
    let response = request.send().await?;
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(part)
        .await?;
    match response.status() {
        StatusCode::PARTIAL_CONTENT => {}
        StatusCode::OK => file.set_len(0).await?, // the server sent it whole
        StatusCode::RANGE_NOT_SATISFIABLE => return Ok(()), // already complete
        status => {
            let body: Value = response.json().await.unwrap_or_default();
            return Err(anyhow!(
                "{}: {} ({status})",
                url,
                body["error"].as_str().unwrap_or("refused")
            ));
        }
    }
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        file.write_all(&chunk).await?;
        bar.inc(chunk.len() as u64);
    }
    file.flush().await?;
    Ok(())
}

/// `dir/path`, refusing a path from the server that would land outside `dir`.
fn inside(dir: &Path, path: &str) -> anyhow::Result<PathBuf> {
    let relative = Path::new(path);
    let safe = !path.is_empty()
        && relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
    if !safe {
        bail!("the server named a file '{path}' outside the folder: refused");
    }
    Ok(dir.join(relative))
}
