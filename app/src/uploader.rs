//! The browser's uploader: sends dropped files to the resumable upload API in chunks,
//! resumes after a dropped connection (asks the server for its offset, retries with backoff)
//! and after a page reload (the upload id is remembered in localStorage under the file's
//! name, size and modification time; dropping the same file again continues it).
//!
//! The rows are plain signals, so the page renders them on the server too (as nothing);
//! the engine itself exists only in the hydrated build.
use leptos::prelude::*;

/// Where one file stands.
#[derive(Debug, Clone, PartialEq)]
pub enum RowState {
    Waiting,
    Uploading,
    /// The connection dropped; the message says when the next try is.
    Retrying(String),
    /// Stored; the format and what its header said.
    Done {
        format: String,
        details: String,
    },
    Failed(String),
    Cancelled,
}

/// One file on the page.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    pub key: u64,
    pub name: StoredValue<String>,
    pub size: u64,
    /// Bytes the server has (or that are on their way in the current request).
    pub sent: RwSignal<u64>,
    /// Bytes per second over this session of the upload.
    pub speed: RwSignal<f64>,
    pub state: RwSignal<RowState>,
}

impl Row {
    pub fn percent(&self) -> f64 {
        if self.size == 0 {
            if matches!(self.state.get(), RowState::Done { .. }) {
                100.0
            } else {
                0.0
            }
        } else {
            (self.sent.get() as f64 * 100.0 / self.size as f64).min(100.0)
        }
    }

    pub fn is_active(&self) -> bool {
        matches!(
            self.state.get(),
            RowState::Waiting | RowState::Uploading | RowState::Retrying(_)
        )
    }
}

/// Seconds as `4 s`, `3 min 20 s`, `1 h 05 min`.
pub fn format_eta(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
    }
}

/// Where the files go: the draft version of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub owner: String,
    pub slug: String,
    pub version: String,
}

impl Target {
    /// The localStorage key prefix for this version's unfinished uploads.
    pub fn storage_prefix(&self) -> String {
        format!(
            "bazaar.upload:{}/{}@{}:",
            self.owner, self.slug, self.version
        )
    }
}

#[cfg(feature = "hydrate")]
pub use engine::{cancel, forgotten_uploads, start};

#[cfg(feature = "hydrate")]
mod engine {
    use std::cell::RefCell;
    use std::collections::HashMap;

    use js_sys::{Promise, JSON};
    use leptos::prelude::*;
    use leptos::task::spawn_local;
    use wasm_bindgen::{closure::Closure, JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;
    use web_sys::{File, ProgressEvent, XmlHttpRequest};

    use super::{Row, RowState, Target};

    /// 8 MiB per PATCH: large enough to keep a fast link busy, small enough that a dropped
    /// connection costs little.
    const CHUNK: u64 = 8 * 1024 * 1024;
    /// How many files upload at once.
    const PARALLEL: usize = 3;
    /// Tries in a row without progress before a file is given up.
    const MAX_RETRIES: u32 = 8;

    thread_local! {
        /// The request in flight per row, so cancel can abort it; and the upload ids.
        static IN_FLIGHT: RefCell<HashMap<u64, XmlHttpRequest>> = RefCell::new(HashMap::new());
        static UPLOAD_IDS: RefCell<HashMap<u64, (String, String)>> = RefCell::new(HashMap::new());
        static RUNNING: RefCell<usize> = const { RefCell::new(0) };
    }

    enum Body<'a> {
        Blob(&'a web_sys::Blob),
        Text(&'a str),
    }

    enum Outcome {
        /// Status and the request (for headers and body).
        Answered(XmlHttpRequest),
        /// No answer: the network failed or the request was aborted.
        Dropped,
    }

    fn now_ms() -> f64 {
        web_sys::window()
            .and_then(|w| w.performance())
            .map(|p| p.now())
            .unwrap_or_default()
    }

    fn storage() -> Option<web_sys::Storage> {
        web_sys::window()?.local_storage().ok().flatten()
    }

    async fn sleep(ms: i32) {
        let promise = Promise::new(&mut |resolve, _| {
            if let Some(window) = web_sys::window() {
                let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
            }
        });
        let _ = JsFuture::from(promise).await;
    }

    /// Sends one request; `progress` sees the bytes of the body sent so far.
    async fn send(
        key: u64,
        method: &str,
        url: &str,
        headers: &[(&str, String)],
        body: Option<Body<'_>>,
        progress: Option<Box<dyn FnMut(f64)>>,
    ) -> Outcome {
        let Ok(xhr) = XmlHttpRequest::new() else {
            return Outcome::Dropped;
        };
        if xhr.open(method, url).is_err() {
            return Outcome::Dropped;
        }
        for (name, value) in headers {
            let _ = xhr.set_request_header(name, value);
        }
        let on_progress = progress.map(|mut progress| {
            Closure::<dyn FnMut(ProgressEvent)>::new(move |event: ProgressEvent| {
                progress(event.loaded())
            })
        });
        if let (Some(closure), Ok(upload)) = (&on_progress, xhr.upload()) {
            upload.set_onprogress(Some(closure.as_ref().unchecked_ref()));
        }
        let done = Promise::new(&mut |resolve, reject| {
            xhr.set_onload(Some(&resolve));
            xhr.set_onerror(Some(&reject));
            xhr.set_onabort(Some(&reject));
            xhr.set_ontimeout(Some(&reject));
        });
        let sent = match body {
            Some(Body::Blob(blob)) => xhr.send_with_opt_blob(Some(blob)),
            Some(Body::Text(text)) => xhr.send_with_opt_str(Some(text)),
            None => xhr.send(),
        };
        if sent.is_err() {
            return Outcome::Dropped;
        }
        IN_FLIGHT.with(|m| m.borrow_mut().insert(key, xhr.clone()));
        let result = JsFuture::from(done).await;
        IN_FLIGHT.with(|m| m.borrow_mut().remove(&key));
        drop(on_progress);
        match result {
            Ok(_) if xhr.status().unwrap_or(0) != 0 => Outcome::Answered(xhr),
            _ => Outcome::Dropped,
        }
    }

    fn status(xhr: &XmlHttpRequest) -> u16 {
        xhr.status().unwrap_or(0)
    }

    fn json(xhr: &XmlHttpRequest) -> JsValue {
        xhr.response_text()
            .ok()
            .flatten()
            .and_then(|text| JSON::parse(&text).ok())
            .unwrap_or(JsValue::NULL)
    }

    fn field(value: &JsValue, name: &str) -> JsValue {
        js_sys::Reflect::get(value, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
    }

    fn text_field(value: &JsValue, name: &str) -> Option<String> {
        field(value, name).as_string()
    }

    fn offset_header(xhr: &XmlHttpRequest) -> Option<u64> {
        xhr.get_response_header("Upload-Offset")
            .ok()
            .flatten()
            .and_then(|v| v.trim().parse().ok())
    }

    /// The server's refusal as one sentence, worded as the forms word field errors.
    fn refusal(xhr: &XmlHttpRequest) -> String {
        let body = json(xhr);
        let message = text_field(&body, "error");
        let field = text_field(&body, "field");
        message
            .map(|message| match field {
                Some(field) => crate::error::in_words(&field, &message),
                None => message,
            })
            .unwrap_or_else(|| {
                format!(
                    "the server refused the file ({} {})",
                    status(xhr),
                    xhr.status_text().unwrap_or_default()
                )
            })
    }

    fn file_key(target: &Target, file: &File) -> String {
        format!(
            "{}{}:{}:{}",
            target.storage_prefix(),
            file.name(),
            file.size() as u64,
            file.last_modified() as u64
        )
    }

    /// Names of files whose upload was left unfinished in an earlier visit to this version.
    pub fn forgotten_uploads(target: &Target) -> Vec<String> {
        let Some(storage) = storage() else {
            return Vec::new();
        };
        let prefix = target.storage_prefix();
        let mut names = Vec::new();
        for i in 0..storage.length().unwrap_or(0) {
            if let Ok(Some(key)) = storage.key(i) {
                if let Some(rest) = key.strip_prefix(&prefix) {
                    // name:size:mtime — the name may itself hold colons.
                    let mut parts = rest.rsplitn(3, ':');
                    let (_, _, name) = (parts.next(), parts.next(), parts.next());
                    if let Some(name) = name {
                        names.push(name.to_owned());
                    }
                }
            }
        }
        names
    }

    /// Stops a file: aborts its request, tells the server to drop what it has.
    pub fn cancel(row: Row) {
        let _ = row.state.try_set(RowState::Cancelled);
        if let Some(xhr) = IN_FLIGHT.with(|m| m.borrow_mut().remove(&row.key)) {
            let _ = xhr.abort();
        }
        if let Some((id, storage_key)) = UPLOAD_IDS.with(|m| m.borrow_mut().remove(&row.key)) {
            if let Some(storage) = storage() {
                let _ = storage.remove_item(&storage_key);
            }
            spawn_local(async move {
                let _ = send(
                    row.key,
                    "DELETE",
                    &format!("/api/v1/uploads/{id}"),
                    &[],
                    None,
                    None,
                )
                .await;
            });
        }
    }

    /// Uploads `file` into `target`, driving `row`; `stored` is bumped once it is stored.
    pub fn start(target: Target, file: File, row: Row, stored: RwSignal<u32>) {
        spawn_local(async move {
            while RUNNING.with(|r| *r.borrow()) >= PARALLEL {
                sleep(200).await;
                if cancelled(row) {
                    return;
                }
            }
            RUNNING.with(|r| *r.borrow_mut() += 1);
            let result = upload(&target, &file, row).await;
            RUNNING.with(|r| *r.borrow_mut() -= 1);
            if cancelled(row) {
                return;
            }
            match result {
                Ok((format, details)) => {
                    let _ = row.sent.try_set(row.size);
                    let _ = row.state.try_set(RowState::Done { format, details });
                    let _ = stored.try_update(|n| *n += 1);
                }
                Err(message) => {
                    let _ = row.state.try_set(RowState::Failed(message));
                }
            }
        });
    }

    /// Cancelled, or the page is gone.
    fn cancelled(row: Row) -> bool {
        row.state
            .try_get_untracked()
            .is_none_or(|state| state == RowState::Cancelled)
    }

    /// The upload id to continue, and its offset: a remembered one the server still has,
    /// or a new one.
    async fn open(
        target: &Target,
        file: &File,
        row: Row,
        storage_key: &str,
    ) -> Result<(String, u64), String> {
        let remembered = storage().and_then(|s| s.get_item(storage_key).ok().flatten());
        if let Some(id) = remembered {
            let mut tries = 0;
            loop {
                match send(
                    row.key,
                    "HEAD",
                    &format!("/api/v1/uploads/{id}"),
                    &[],
                    None,
                    None,
                )
                .await
                {
                    Outcome::Answered(xhr) if status(&xhr) == 200 => {
                        if let Some(offset) = offset_header(&xhr) {
                            return Ok((id, offset));
                        }
                        break;
                    }
                    Outcome::Answered(xhr) if status(&xhr) < 500 => break,
                    _ => {
                        tries += 1;
                        if tries > MAX_RETRIES || cancelled(row) {
                            return Err("the server cannot be reached".into());
                        }
                        backoff(row, tries).await;
                    }
                }
            }
            // Expired or finished elsewhere: start afresh.
            if let Some(s) = storage() {
                let _ = s.remove_item(storage_key);
            }
        }
        let declared = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&declared, &"path".into(), &file.name().into());
        let _ = js_sys::Reflect::set(&declared, &"size".into(), &JsValue::from_f64(file.size()));
        let body: String = JSON::stringify(&declared)
            .map(String::from)
            .unwrap_or_default();
        let url = format!(
            "/api/v1/models/{}/{}/versions/{}/uploads",
            target.owner, target.slug, target.version
        );
        let mut tries = 0;
        loop {
            let headers = [("Content-Type", "application/json".to_owned())];
            match send(
                row.key,
                "POST",
                &url,
                &headers,
                Some(Body::Text(&body)),
                None,
            )
            .await
            {
                Outcome::Answered(xhr) if status(&xhr) == 201 => {
                    let answer = json(&xhr);
                    let id = text_field(&answer, "id").ok_or("the server sent no upload id")?;
                    let offset = field(&answer, "offset").as_f64().unwrap_or(0.0) as u64;
                    if let Some(s) = storage() {
                        let _ = s.set_item(storage_key, &id);
                    }
                    return Ok((id, offset));
                }
                Outcome::Answered(xhr) if status(&xhr) < 500 => return Err(refusal(&xhr)),
                _ => {
                    tries += 1;
                    if tries > MAX_RETRIES || cancelled(row) {
                        return Err("the server cannot be reached".into());
                    }
                    backoff(row, tries).await;
                }
            }
        }
    }

    /// Waits 1, 2, 4 … 30 s, saying so on the row.
    async fn backoff(row: Row, tries: u32) {
        let seconds = (1u32 << tries.saturating_sub(1).min(5)).min(30);
        let _ = row.state.try_set(RowState::Retrying(format!(
            "connection lost; trying again in {seconds} s"
        )));
        sleep(seconds as i32 * 1000).await;
        if !cancelled(row) {
            let _ = row.state.try_set(RowState::Uploading);
        }
    }

    async fn upload(target: &Target, file: &File, row: Row) -> Result<(String, String), String> {
        let storage_key = file_key(target, file);
        let _ = row.state.try_set(RowState::Uploading);
        let (id, mut offset) = open(target, file, row, &storage_key).await?;
        UPLOAD_IDS.with(|m| {
            m.borrow_mut()
                .insert(row.key, (id.clone(), storage_key.clone()))
        });
        let size = file.size() as u64;
        let _ = row.sent.try_set(offset);
        let started_at = now_ms();
        let started_from = offset;
        let mut tries = 0;
        let url = format!("/api/v1/uploads/{id}");
        loop {
            if cancelled(row) {
                return Err("cancelled".into());
            }
            let end = (offset + CHUNK).min(size);
            let chunk = file
                .slice_with_f64_and_f64(offset as f64, end as f64)
                .map_err(|_| "the browser could not read the file".to_owned())?;
            let base = offset;
            let progress = Box::new(move |loaded: f64| {
                let sent = base + loaded as u64;
                let _ = row.sent.try_set(sent.min(size));
                let elapsed = (now_ms() - started_at) / 1000.0;
                if elapsed > 0.2 {
                    let _ = row.speed.try_set((sent - started_from) as f64 / elapsed);
                }
            });
            let headers = [
                ("Upload-Offset", offset.to_string()),
                ("Content-Type", "application/offset+octet-stream".to_owned()),
            ];
            let outcome = send(
                row.key,
                "PATCH",
                &url,
                &headers,
                Some(Body::Blob(&chunk)),
                Some(progress),
            )
            .await;
            if cancelled(row) {
                return Err("cancelled".into());
            }
            match outcome {
                Outcome::Answered(xhr) if status(&xhr) == 200 => {
                    tries = 0;
                    let answer = json(&xhr);
                    offset = field(&answer, "offset").as_f64().unwrap_or(end as f64) as u64;
                    let _ = row.sent.try_set(offset);
                    if field(&answer, "complete").as_bool() == Some(true) {
                        if let Some(s) = storage() {
                            let _ = s.remove_item(&storage_key);
                        }
                        UPLOAD_IDS.with(|m| m.borrow_mut().remove(&row.key));
                        let stored = field(&answer, "file");
                        return Ok((
                            text_field(&stored, "format").unwrap_or_else(|| "plain".into()),
                            String::new(),
                        ));
                    }
                }
                Outcome::Answered(xhr) if status(&xhr) == 409 => {
                    offset = offset_header(&xhr).ok_or_else(|| refusal(&xhr))?;
                    let _ = row.sent.try_set(offset);
                }
                Outcome::Answered(xhr) if status(&xhr) < 500 => {
                    // Refused for good (format, limit, published version): forget it.
                    if let Some(s) = storage() {
                        let _ = s.remove_item(&storage_key);
                    }
                    UPLOAD_IDS.with(|m| m.borrow_mut().remove(&row.key));
                    return Err(refusal(&xhr));
                }
                _ => {
                    tries += 1;
                    if tries > MAX_RETRIES {
                        return Err(
                            "the connection kept failing; drop the file again to continue".into(),
                        );
                    }
                    backoff(row, tries).await;
                    // Ask where the server got to before sending more.
                    if let Outcome::Answered(xhr) =
                        send(row.key, "HEAD", &url, &[], None, None).await
                    {
                        if status(&xhr) == 200 {
                            if let Some(at) = offset_header(&xhr) {
                                offset = at;
                                let _ = row.sent.try_set(offset);
                            }
                        } else if status(&xhr) == 404 {
                            if let Some(s) = storage() {
                                let _ = s.remove_item(&storage_key);
                            }
                            return Err("the server no longer has this upload; drop the file again to start over".into());
                        }
                    }
                }
            }
        }
    }
}
