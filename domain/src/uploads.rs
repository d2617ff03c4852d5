//! Resumable uploads into a draft version, tus-style: the client declares the file (path,
//! size, optional SHA-256), then sends its bytes in one or more appends, each starting at
//! the offset the server reports; after a dropped connection it asks for the offset and
//! continues from there. Bytes stream through format inspection and SHA-256 into an
//! object-store multipart upload held by this process; nothing is visible until the last
//! byte is in, the checksum and format check pass, and the file row is committed.
//! Uploads idle past the policy's expiry are aborted by [`expire_idle`].
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use chrono::{Duration, Utc};
use futures::{Stream, StreamExt};
use object_store::WriteMultipart;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, TransactionTrait,
};

use crate::digest::StreamDigest;
use crate::entities::{file, upload, user};
use crate::error::{DomainError, DomainResult};
use crate::formats::Inspector;
use crate::names::check_file_path;
use crate::state::AppState;
use crate::storage::Storage;

#[derive(Debug, Clone, Copy)]
pub struct UploadPolicy {
    /// The largest file accepted; checked against the declared size before any byte.
    pub max_file_bytes: u64,
    /// An upload that receives nothing for this long is aborted.
    pub idle_expiry: Duration,
}

impl Default for UploadPolicy {
    fn default() -> Self {
        Self {
            max_file_bytes: 50 << 30,
            idle_expiry: Duration::hours(24),
        }
    }
}

/// This process's uploads in progress (the multipart writers cannot be shared).
#[derive(Clone, Default)]
pub struct Uploads {
    active: Arc<Mutex<HashMap<String, Arc<Entry>>>>,
}

/// One upload in progress. A request appends while it holds `active`; a newer request for the
/// same upload takes over (as tus servers do): the client that lost its connection, or
/// reloaded the page, continues at once instead of waiting until the server notices the old
/// connection is dead, which can take minutes.
struct Entry {
    active: tokio::sync::Mutex<Active>,
    /// Bumped by each request that wants the upload; the holder stops when it changes.
    generation: AtomicU64,
    takeover: tokio::sync::Notify,
}

/// How long a new request waits for the one it takes over from to let go.
const TAKEOVER_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

struct Active {
    writer: Option<WriteMultipart>,
    digest: StreamDigest,
    inspector: Option<Inspector>,
    offset: u64,
}

impl Uploads {
    fn get(&self, id: &str) -> Option<Arc<Entry>> {
        self.active.lock().expect("uploads lock").get(id).cloned()
    }

    fn insert(&self, id: String, active: Active) {
        self.active.lock().expect("uploads lock").insert(
            id,
            Arc::new(Entry {
                active: tokio::sync::Mutex::new(active),
                generation: AtomicU64::new(0),
                takeover: tokio::sync::Notify::new(),
            }),
        );
    }

    fn remove(&self, id: &str) -> Option<Arc<Entry>> {
        self.active.lock().expect("uploads lock").remove(id)
    }
}

pub struct NewUpload<'a> {
    pub owner: &'a str,
    pub slug: &'a str,
    pub version: &'a str,
    pub path: &'a str,
    pub size: u64,
    pub sha256: Option<&'a str>,
}

/// Where an upload stands after an append.
#[derive(Debug)]
pub struct Progress {
    pub upload: upload::Model,
    /// The file, once the upload is complete.
    pub file: Option<file::Model>,
}

/// Declares a file. Declaring the same file again (same path, size and checksum, same
/// user) while its upload is in progress returns that upload, so a restarted client resumes.
pub async fn begin(
    state: &AppState,
    user: &user::Model,
    new: NewUpload<'_>,
) -> DomainResult<upload::Model> {
    let (_, version) =
        crate::listings::writable_version(state, user, new.owner, new.slug, new.version).await?;
    check_file_path(new.path)?;
    if new.size > state.upload_policy.max_file_bytes {
        return Err(DomainError::TooLarge(format!(
            "{} is {} bytes; the limit is {} bytes",
            new.path, new.size, state.upload_policy.max_file_bytes
        )));
    }
    let sha256 = new
        .sha256
        .map(|hash| {
            let hash = hash.trim().to_ascii_lowercase();
            if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                Ok(hash)
            } else {
                Err(DomainError::invalid("sha256", "give 64 hexadecimal digits"))
            }
        })
        .transpose()?;
    let inspector =
        Inspector::for_file(new.path).map_err(|e| DomainError::invalid("path", e.to_string()))?;
    if file::Entity::find()
        .filter(file::Column::VersionId.eq(version.id))
        .filter(file::Column::Path.eq(new.path))
        .one(&state.db)
        .await?
        .is_some()
    {
        return Err(DomainError::Conflict(format!(
            "version {} already has a file {}",
            version.version, new.path
        )));
    }
    if let Some(existing) = upload::Entity::find()
        .filter(upload::Column::VersionId.eq(version.id))
        .filter(upload::Column::Path.eq(new.path))
        .one(&state.db)
        .await?
    {
        let same = existing.user_id == user.id
            && existing.size as u64 == new.size
            && existing.sha256 == sha256;
        if same && state.uploads.get(&existing.id).is_some() {
            return status(state, user, &existing.id).await;
        }
        if state.uploads.get(&existing.id).is_some() {
            return Err(DomainError::Conflict(format!(
                "{} is already being uploaded",
                new.path
            )));
        }
        // Left by a restarted server: its bytes are gone with it.
        discard(state, existing).await?;
    }

    let key = Storage::new_object_key();
    let writer = state.storage.begin_multipart(&key).await?;
    let now = Utc::now();
    let row = upload::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        version_id: Set(version.id),
        user_id: Set(user.id),
        path: Set(new.path.to_owned()),
        size: Set(new.size as i64),
        received: Set(0),
        sha256: Set(sha256),
        object_key: Set(key),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&state.db)
    .await;
    let row = match row {
        Ok(row) => row,
        Err(e) => {
            writer.abort().await.ok();
            return Err(e.into());
        }
    };
    state.uploads.insert(
        row.id.clone(),
        Active {
            writer: Some(writer),
            digest: StreamDigest::default(),
            inspector: Some(inspector),
            offset: 0,
        },
    );
    Ok(row)
}

async fn find_own(state: &AppState, user: &user::Model, id: &str) -> DomainResult<upload::Model> {
    upload::Entity::find_by_id(id.to_owned())
        .one(&state.db)
        .await?
        .filter(|row| row.user_id == user.id)
        .ok_or(DomainError::NotFound("upload"))
}

/// The upload with `received` as of now: where the client continues.
pub async fn status(state: &AppState, user: &user::Model, id: &str) -> DomainResult<upload::Model> {
    let mut row = find_own(state, user, id).await?;
    match state.uploads.get(id) {
        Some(active) => {
            if let Ok(active) = active.active.try_lock() {
                row.received = active.offset as i64;
            }
            Ok(row)
        }
        None => Err(interrupted(state, row).await),
    }
}

/// The upload's writer died with an earlier server process: forget it, say so.
async fn interrupted(state: &AppState, row: upload::Model) -> DomainError {
    if let Err(e) = discard(state, row).await {
        return e;
    }
    DomainError::Gone("this upload was interrupted by a server restart; start it again".into())
}

/// Appends `body` at `offset`. A body cut short (dropped connection) keeps what arrived;
/// the last byte completes the upload.
pub async fn append<S, E>(
    state: &AppState,
    user: &user::Model,
    id: &str,
    offset: u64,
    body: S,
) -> DomainResult<Progress>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut row = find_own(state, user, id).await?;
    let Some(entry) = state.uploads.get(id) else {
        return Err(interrupted(state, row).await);
    };
    let mut active = match entry.active.try_lock() {
        Ok(active) => active,
        Err(_) => {
            entry.generation.fetch_add(1, Ordering::SeqCst);
            entry.takeover.notify_waiters();
            match tokio::time::timeout(TAKEOVER_WAIT, entry.active.lock()).await {
                Ok(active) => active,
                Err(_) => {
                    return Err(DomainError::Conflict(
                        "another request is sending this upload".into(),
                    ))
                }
            }
        }
    };
    let generation = entry.generation.load(Ordering::SeqCst);
    if active.writer.is_none() || active.inspector.is_none() {
        // Completed or cancelled by a request that held the lock just before this one.
        return Err(DomainError::NotFound("upload"));
    }
    if offset != active.offset {
        return Err(DomainError::OffsetMismatch {
            expected: active.offset,
        });
    }
    let size = row.size as u64;
    let mut body = body;
    let mut refusal = None;
    let digest = active.digest.feed().await;
    loop {
        // Armed before the check, so a takeover between the two is not missed.
        let taken_over = entry.takeover.notified();
        tokio::pin!(taken_over);
        taken_over.as_mut().enable();
        if entry.generation.load(Ordering::SeqCst) != generation {
            break; // A newer request continues from here.
        }
        let chunk = tokio::select! {
            chunk = body.next() => chunk,
            () = &mut taken_over => break,
        };
        let Some(Ok(chunk)) = chunk else {
            break; // The client went away: keep what arrived; it resumes from the offset.
        };
        if active.offset + chunk.len() as u64 > size {
            refusal = Some(DomainError::invalid(
                "body",
                format!("more bytes than the {size} declared"),
            ));
            break;
        }
        let Active {
            writer,
            inspector,
            offset,
            ..
        } = &mut *active;
        let writer = writer.as_mut().expect("an active upload has a writer");
        // Wait for room first: a request dropped while waiting has consumed nothing.
        writer.wait_for_capacity(4).await.map_err(storage_error)?;
        let room = digest.room(chunk.len()).await;
        if let Some(Err(e)) = inspector.as_mut().map(|i| i.feed(&chunk)) {
            refusal = Some(DomainError::invalid("file", e.to_string()));
            break;
        }
        digest.push(room, chunk.clone());
        *offset += chunk.len() as u64;
        writer.put(chunk);
    }
    digest.close().await;
    if let Some(refusal) = refusal {
        let is_format = matches!(&refusal, DomainError::Invalid { field: "file", .. });
        if is_format {
            // A file that fails its format check cannot become valid by sending more.
            drop(active);
            cancel_row(state, row).await?;
        }
        return Err(refusal);
    }
    row.received = active.offset as i64;
    let mut update: upload::ActiveModel = row.clone().into();
    update.received = Set(row.received);
    update.updated_at = Set(Utc::now());
    update.update(&state.db).await?;
    if active.offset < size {
        return Ok(Progress {
            upload: row,
            file: None,
        });
    }
    let completed = Active {
        writer: active.writer.take(),
        digest: std::mem::take(&mut active.digest),
        inspector: active.inspector.take(),
        offset: active.offset,
    };
    state.uploads.remove(id);
    drop(active);
    let file = complete(state, &row, completed).await?;
    Ok(Progress {
        upload: row,
        file: Some(file),
    })
}

fn storage_error(e: object_store::Error) -> DomainError {
    DomainError::Storage(e.into())
}

/// Seals the object, checks it, and records the file; on any refusal the object goes.
async fn complete(
    state: &AppState,
    row: &upload::Model,
    done: Active,
) -> DomainResult<file::Model> {
    let writer = done.writer.expect("a complete upload has a writer");
    let inspector = done.inspector.expect("a complete upload has an inspector");
    let sha256 = done.digest.finish().await;
    let metadata = match inspector.finish() {
        Ok(metadata) => metadata,
        Err(e) => {
            writer.abort().await.ok();
            upload::Entity::delete_by_id(row.id.clone())
                .exec(&state.db)
                .await?;
            return Err(DomainError::invalid("file", e.to_string()));
        }
    };
    if row
        .sha256
        .as_ref()
        .is_some_and(|expected| *expected != sha256)
    {
        writer.abort().await.ok();
        upload::Entity::delete_by_id(row.id.clone())
            .exec(&state.db)
            .await?;
        return Err(DomainError::invalid(
            "sha256",
            format!("the bytes received hash to {sha256}, not the SHA-256 given"),
        ));
    }
    writer.finish().await.map_err(storage_error)?;
    let recorded = async {
        let txn = state.db.begin().await?;
        let file = file::ActiveModel {
            version_id: Set(row.version_id),
            path: Set(row.path.clone()),
            object_key: Set(row.object_key.clone()),
            size: Set(row.size),
            sha256: Set(sha256.clone()),
            format: Set(metadata.kind().as_str().to_owned()),
            metadata: Set(Some(serde_json::to_value(&metadata).unwrap_or_default())),
            // The card's demo block picks the demo file when the version is published.
            is_demo: Set(false),
            created_at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        upload::Entity::delete_by_id(row.id.clone())
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok::<_, sea_orm::DbErr>(file)
    }
    .await;
    match recorded {
        Ok(file) => Ok(file),
        Err(e) => {
            state.storage.delete(&row.object_key).await.ok();
            Err(e.into())
        }
    }
}

/// Abandons an upload: its parts are aborted and its row removed.
pub async fn cancel(state: &AppState, user: &user::Model, id: &str) -> DomainResult<()> {
    let row = find_own(state, user, id).await?;
    cancel_row(state, row).await
}

async fn cancel_row(state: &AppState, row: upload::Model) -> DomainResult<()> {
    if let Some(entry) = state.uploads.remove(&row.id) {
        // A request still sending stops first.
        entry.generation.fetch_add(1, Ordering::SeqCst);
        entry.takeover.notify_waiters();
        let writer = entry.active.lock().await.writer.take();
        if let Some(writer) = writer {
            writer.abort().await.ok();
        }
    }
    discard(state, row).await
}

/// Removes an upload's row and whatever partial object it left.
async fn discard(state: &AppState, row: upload::Model) -> DomainResult<()> {
    state.storage.discard_partial(&row.object_key).await?;
    upload::Entity::delete_by_id(row.id).exec(&state.db).await?;
    Ok(())
}

/// Aborts uploads nobody has sent to for the policy's idle time, including those left by a
/// server that stopped. Returns how many went.
pub async fn expire_idle(state: &AppState) -> DomainResult<u64> {
    let cutoff = Utc::now() - state.upload_policy.idle_expiry;
    let stale = upload::Entity::find()
        .filter(upload::Column::UpdatedAt.lt(cutoff))
        .all(&state.db)
        .await?;
    let count = stale.len() as u64;
    for row in stale {
        cancel_row(state, row).await?;
    }
    Ok(count)
}
