//! Resumable uploads into a draft version, tus-style: the client declares the file (path,
//! size, optional SHA-256), then sends its bytes in one or more appends, each starting at
//! the offset the server reports; after a dropped connection it asks for the offset and
//! continues from there. Bytes stream through format inspection and SHA-256 into an
//! object-store multipart upload held by this process; nothing is visible until the last
//! byte is in, the checksum and format check pass, and the file row is committed.
//! Uploads idle past the policy's expiry are aborted by [`expire_idle`].
//!
//! What uploads may take is bounded three ways: the bytes this process holds for all of them
//! together ([`MemoryBudget`]), the unfinished uploads of one owner, and each owner's storage
//! quota (stored files plus the declared sizes of unfinished uploads). The last two are
//! counted in the database, so every instance sees the same numbers, and are checked when an
//! upload is declared and again, with everything else that allowed it, when it completes.
mod memory;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use chrono::{Duration, Utc};
use futures::{Stream, StreamExt};
use object_store::WriteMultipart;
use sea_orm::sea_query::{Expr, Query, SelectStatement};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QuerySelect, SqlErr, TransactionTrait,
};

pub use memory::{MemoryBudget, Reservation};

use crate::digest::{DigestFeed, StreamDigest};
use crate::entities::{file, model, model_version, upload, user};
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
    /// Unfinished uploads one owner (a user or an organization) may have at once.
    pub max_unfinished_per_owner: u32,
    /// Bytes an owner may store (files, plus the declared sizes of unfinished uploads) unless
    /// the owner has a quota of its own (`users.storage_quota_bytes`).
    pub default_quota_bytes: u64,
    /// Memory this process may hold for all uploads together: parts being filled or written,
    /// bytes waiting to be hashed, inspectors' state.
    pub memory_budget_bytes: u64,
}

impl Default for UploadPolicy {
    fn default() -> Self {
        Self {
            max_file_bytes: 50 << 30,
            idle_expiry: Duration::hours(24),
            max_unfinished_per_owner: 10,
            default_quota_bytes: 50 << 30,
            memory_budget_bytes: 512 << 20,
        }
    }
}

/// This process's uploads in progress (the multipart writers cannot be shared).
#[derive(Clone)]
pub struct Uploads {
    active: Arc<Mutex<HashMap<String, Arc<Entry>>>>,
    memory: MemoryBudget,
}

impl Default for Uploads {
    fn default() -> Self {
        Self::new(UploadPolicy::default().memory_budget_bytes)
    }
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

/// Chunks smaller than this (a trickle) are gathered into one before they are kept, so that
/// holding a part costs its bytes and not a list entry per byte.
const GATHER: usize = 64 << 10;

struct Active {
    writer: Option<WriteMultipart>,
    digest: StreamDigest,
    inspector: Option<Inspector>,
    offset: u64,
    /// The memory budget held for the inspector's state (at most
    /// `formats::MAX_RETAINED_BYTES`), kept while the upload waits for its next request.
    inspector_memory: Reservation,
}

impl Uploads {
    pub fn new(memory_budget_bytes: u64) -> Self {
        Self {
            active: Arc::default(),
            memory: MemoryBudget::new(memory_budget_bytes),
        }
    }

    /// The memory all uploads in this process share.
    pub fn memory(&self) -> &MemoryBudget {
        &self.memory
    }

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
    let (listing, version) =
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
    // A new upload needs room for its first bytes; when there is none, say so now.
    state.uploads.memory.check_room(GATHER)?;

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
    };
    let row = match insert_within_limits(state, listing.owner_id, new.path, new.size, row).await {
        Ok(row) => row,
        Err(e) => {
            writer.abort().await.ok();
            return Err(e);
        }
    };
    state.uploads.insert(
        row.id.clone(),
        Active {
            writer: Some(writer),
            digest: StreamDigest::default(),
            inspector: Some(inspector),
            offset: 0,
            inspector_memory: Reservation::empty(),
        },
    );
    Ok(row)
}

/// Records a new upload if its owner has room for it: fewer unfinished uploads than the limit,
/// and the declared size within the quota. The owner's row is locked first, so uploads
/// declared at the same time on any instance are counted one after another.
async fn insert_within_limits(
    state: &AppState,
    owner_id: i64,
    path: &str,
    size: u64,
    row: upload::ActiveModel,
) -> DomainResult<upload::Model> {
    let policy = &state.upload_policy;
    let txn = state.db.begin().await?;
    let owner = crate::locks::lock_user(&txn, owner_id).await?;
    let usage = usage(&txn, owner_id, None).await?;
    if usage.unfinished >= u64::from(policy.max_unfinished_per_owner) {
        return Err(DomainError::LimitReached(format!(
            "{} has {} unfinished uploads, the limit is {}: finish or cancel one first",
            owner.username, usage.unfinished, policy.max_unfinished_per_owner
        )));
    }
    check_quota(&owner, policy, usage.bytes, path, size)?;
    let row = row.insert(&txn).await.map_err(|e| match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => {
            DomainError::Conflict(format!("{path} is already being uploaded"))
        }
        _ => DomainError::Database(e),
    })?;
    txn.commit().await?;
    Ok(row)
}

/// The owner's storage quota in bytes: its own, or the default.
fn quota_of(owner: &user::Model, policy: &UploadPolicy) -> u64 {
    owner
        .storage_quota_bytes
        .map_or(policy.default_quota_bytes, |q| q.max(0) as u64)
}

/// Refuses `size` more bytes for `path` when `used` plus them is over the owner's quota.
fn check_quota(
    owner: &user::Model,
    policy: &UploadPolicy,
    used: u64,
    path: &str,
    size: u64,
) -> DomainResult<()> {
    let quota = quota_of(owner, policy);
    if used.saturating_add(size) > quota {
        return Err(DomainError::TooLarge(format!(
            "{path} ({}) does not fit in {}'s storage quota of {}: {} is used by stored files \
             and unfinished uploads",
            bytes_shown(size),
            owner.username,
            bytes_shown(quota),
            bytes_shown(used),
        )));
    }
    Ok(())
}

/// `1234` as "1234 bytes", larger sizes also in MiB or GiB.
fn bytes_shown(bytes: u64) -> String {
    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;
    if bytes >= GIB {
        format!("{bytes} bytes ({:.1} GiB)", bytes as f64 / GIB as f64)
    } else if bytes >= MIB {
        format!("{bytes} bytes ({:.1} MiB)", bytes as f64 / MIB as f64)
    } else {
        format!("{bytes} bytes")
    }
}

/// What an owner uses: bytes of stored files (deleted listings' too, until purged) plus the
/// declared sizes of unfinished uploads, and how many uploads are unfinished.
struct Usage {
    bytes: u64,
    unfinished: u64,
}

async fn usage(
    db: &impl ConnectionTrait,
    owner_id: i64,
    except_upload: Option<&str>,
) -> DomainResult<Usage> {
    // PostgreSQL sums bigints as numeric: cast back.
    let sum = || Expr::cust("CAST(COALESCE(SUM(size), 0) AS BIGINT)");
    let stored: Option<i64> = file::Entity::find()
        .select_only()
        .column_as(sum(), "bytes")
        .filter(file::Column::VersionId.in_subquery(owner_versions(owner_id)))
        .into_tuple()
        .one(db)
        .await?;
    let mut unfinished = upload::Entity::find()
        .select_only()
        .column_as(sum(), "bytes")
        .column_as(Expr::cust("CAST(COUNT(*) AS BIGINT)"), "count")
        .filter(upload::Column::VersionId.in_subquery(owner_versions(owner_id)));
    if let Some(id) = except_upload {
        unfinished = unfinished.filter(upload::Column::Id.ne(id));
    }
    let (declared, count): (i64, i64) = unfinished.into_tuple().one(db).await?.unwrap_or((0, 0));
    Ok(Usage {
        bytes: (stored.unwrap_or(0).max(0) + declared.max(0)) as u64,
        unfinished: count.max(0) as u64,
    })
}

/// The ids of every version of every listing `owner_id` owns.
fn owner_versions(owner_id: i64) -> SelectStatement {
    Query::select()
        .column(model_version::Column::Id)
        .from(model_version::Entity)
        .and_where(
            model_version::Column::ModelId.in_subquery(
                Query::select()
                    .column(model::Column::Id)
                    .from(model::Entity)
                    .and_where(model::Column::OwnerId.eq(owner_id))
                    .to_owned(),
            ),
        )
        .to_owned()
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
    let memory = state.uploads.memory.clone();
    // Small chunks wait here (under `2 * GATHER` bytes, for this request only) to be kept as
    // one; the room is taken first, or the request is refused at once.
    let _gathering = memory.reserve_now(2 * GATHER)?;
    let mut gathered: Vec<u8> = Vec::new();
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
        if active.offset + (gathered.len() + chunk.len()) as u64 > size {
            refusal = Some(DomainError::invalid(
                "body",
                format!("more bytes than the {size} declared"),
            ));
            break;
        }
        let ready = if chunk.len() >= GATHER {
            if let Err(e) = keep_gathered(&memory, &mut active, &digest, &mut gathered).await {
                refusal = Some(e);
                break;
            }
            chunk
        } else {
            if gathered.capacity() == 0 {
                gathered.reserve_exact(2 * GATHER);
            }
            gathered.extend_from_slice(&chunk);
            if gathered.len() < GATHER {
                continue;
            }
            gathered_bytes(&mut gathered)
        };
        if let Err(e) = keep(&memory, &mut active, &digest, ready).await {
            refusal = Some(e);
            break;
        }
    }
    if refusal.is_none() {
        refusal = keep_gathered(&memory, &mut active, &digest, &mut gathered)
            .await
            .err();
    }
    digest.close().await;
    if let Some(refusal) = refusal {
        let is_format = matches!(&refusal, DomainError::Invalid { field: "file", .. });
        if is_format {
            // A file that fails its format check cannot become valid by sending more.
            drop(active);
            cancel_row(state, row).await?;
        } else {
            // What was kept stays: the client continues from the offset.
            record_received(state, &mut row, active.offset).await?;
        }
        return Err(refusal);
    }
    record_received(state, &mut row, active.offset).await?;
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
        inspector_memory: std::mem::replace(&mut active.inspector_memory, Reservation::empty()),
    };
    state.uploads.remove(id);
    drop(active);
    let file = complete(state, user, &row, completed).await?;
    Ok(Progress {
        upload: row,
        file: Some(file),
    })
}

async fn record_received(
    state: &AppState,
    row: &mut upload::Model,
    offset: u64,
) -> DomainResult<()> {
    row.received = offset as i64;
    let mut update: upload::ActiveModel = row.clone().into();
    update.received = Set(row.received);
    update.updated_at = Set(Utc::now());
    update.update(&state.db).await?;
    Ok(())
}

/// Keeps the small chunks gathered so far, as one.
async fn keep_gathered(
    memory: &MemoryBudget,
    active: &mut Active,
    digest: &DigestFeed,
    gathered: &mut Vec<u8>,
) -> DomainResult<()> {
    if gathered.is_empty() {
        return Ok(());
    }
    keep(memory, active, digest, gathered_bytes(gathered)).await
}

/// The gathered bytes in an allocation of their own size (what the budget counts).
fn gathered_bytes(gathered: &mut Vec<u8>) -> Bytes {
    let bytes = Bytes::copy_from_slice(gathered);
    gathered.clear();
    bytes
}

/// Takes `chunk` into the upload: counted against the memory budget, inspected, queued for
/// hashing and written; then the inspector's state is counted anew. The offset stays true
/// whatever fails: it moves only once the chunk is in the hash queue and the writer.
async fn keep(
    memory: &MemoryBudget,
    active: &mut Active,
    digest: &DigestFeed,
    chunk: Bytes,
) -> DomainResult<()> {
    let chunk = memory.hold(chunk).await?;
    let Active {
        writer,
        inspector,
        offset,
        inspector_memory,
        ..
    } = active;
    let writer = writer.as_mut().expect("an active upload has a writer");
    // Wait for room first: a request dropped while waiting has consumed nothing.
    writer.wait_for_capacity(4).await.map_err(storage_error)?;
    let room = digest.room(chunk.len()).await;
    if let Some(Err(e)) = inspector.as_mut().map(|i| i.feed(&chunk)) {
        return Err(DomainError::invalid("file", e.to_string()));
    }
    digest.push(room, chunk.clone());
    *offset += chunk.len() as u64;
    writer.put(chunk);
    let retained = inspector.as_ref().map_or(0, Inspector::retained_bytes);
    if retained != inspector_memory.bytes() {
        memory.resize(inspector_memory, retained).await?;
    }
    Ok(())
}

fn storage_error(e: object_store::Error) -> DomainError {
    DomainError::Storage(e.into())
}

/// Seals the object, checks it, and records the file; on any refusal the object goes.
/// Whatever allowed the upload when it was declared is checked again here, in the transaction
/// that records the file: the version is still a draft, its listing is not deleted, the caller
/// may still publish as the owner, and the file still fits the owner's quota.
async fn complete(
    state: &AppState,
    user: &user::Model,
    row: &upload::Model,
    done: Active,
) -> DomainResult<file::Model> {
    let writer = done.writer.expect("a complete upload has a writer");
    let inspector = done.inspector.expect("a complete upload has an inspector");
    let sha256 = done.digest.finish().await;
    let checked = async {
        let metadata = inspector
            .finish()
            .map_err(|e| DomainError::invalid("file", e.to_string()))?;
        if row
            .sha256
            .as_ref()
            .is_some_and(|expected| *expected != sha256)
        {
            return Err(DomainError::invalid(
                "sha256",
                format!("the bytes received hash to {sha256}, not the SHA-256 given"),
            ));
        }
        // Checked before sealing the object too, so a refused file is never written whole.
        let txn = state.db.begin().await?;
        let allowed = still_allowed(state, &txn, user, row).await;
        txn.rollback().await?;
        allowed.map(|()| metadata)
    };
    let metadata = match checked.await {
        Ok(metadata) => metadata,
        Err(e) => {
            writer.abort().await.ok();
            upload::Entity::delete_by_id(row.id.clone())
                .exec(&state.db)
                .await?;
            return Err(e);
        }
    };
    writer.finish().await.map_err(storage_error)?;
    let recorded = async {
        let txn = state.db.begin().await?;
        still_allowed(state, &txn, user, row).await?;
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
        .await
        .map_err(crate::publishing::frozen_or)?;
        upload::Entity::delete_by_id(row.id.clone())
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok::<_, DomainError>(file)
    }
    .await;
    match recorded {
        Ok(file) => Ok(file),
        Err(e) => {
            state.storage.delete(&row.object_key).await.ok();
            if !matches!(e, DomainError::Database(_)) {
                upload::Entity::delete_by_id(row.id.clone())
                    .exec(&state.db)
                    .await?;
            }
            Err(e)
        }
    }
}

/// Checks, within `txn`, that the upload may still become a file, and locks what could change
/// that until `txn` ends: the version (publishing waits), the listing (deleting waits) and the
/// owner (other uploads' quota checks wait), in the order publishing takes them.
async fn still_allowed(
    state: &AppState,
    txn: &impl ConnectionTrait,
    user: &user::Model,
    row: &upload::Model,
) -> DomainResult<()> {
    let draft = model_version::Entity::update_many()
        .col_expr(
            model_version::Column::PublishedAt,
            Expr::col(model_version::Column::PublishedAt),
        )
        .filter(model_version::Column::Id.eq(row.version_id))
        .filter(model_version::Column::PublishedAt.is_null())
        .exec(txn)
        .await?;
    let version = model_version::Entity::find_by_id(row.version_id)
        .one(txn)
        .await?
        .ok_or(DomainError::NotFound("version"))?;
    if draft.rows_affected == 0 {
        return Err(DomainError::Conflict(format!(
            "version {} was published while {} was uploading, and can no longer change",
            version.version, row.path
        )));
    }
    let listed = model::Entity::update_many()
        .col_expr(
            model::Column::DeletedAt,
            Expr::col(model::Column::DeletedAt),
        )
        .filter(model::Column::Id.eq(version.model_id))
        .filter(model::Column::DeletedAt.is_null())
        .exec(txn)
        .await?;
    if listed.rows_affected == 0 {
        return Err(DomainError::NotFound("model"));
    }
    let owner_id = model::Entity::find_by_id(version.model_id)
        .one(txn)
        .await?
        .ok_or(DomainError::NotFound("model"))?
        .owner_id;
    let owner = crate::locks::lock_user(txn, owner_id).await?;
    // The caller as they are now, not as the request found them: rights taken away while
    // the bytes streamed in count.
    let user = user::Entity::find_by_id(user.id)
        .one(txn)
        .await?
        .ok_or_else(|| DomainError::Forbidden("your account no longer exists".into()))?;
    if !crate::orgs::can_publish_as(txn, &user, &owner).await? {
        return Err(DomainError::Forbidden(format!(
            "you can no longer publish as {}",
            owner.username
        )));
    }
    let used = usage(txn, owner_id, Some(&row.id)).await?.bytes;
    check_quota(
        &owner,
        &state.upload_policy,
        used,
        &row.path,
        row.size as u64,
    )
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
