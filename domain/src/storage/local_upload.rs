//! Multipart uploads into a local directory that reach the disk while they arrive.
//!
//! `object_store`'s local upload leaves every part dirty in the page cache until the end, so
//! a large file's whole write-back starts after its last byte: the client waits for all of it
//! at once, and gigabytes of dirty memory stall every other writer on the machine. Here each
//! part is written at its offset and flushed at once, so the disk works while the network
//! does and dirty memory stays bounded by the parts in flight. Completion makes the file
//! durable and renames it into place under the name `LocalFileSystem` reads, lists and
//! deletes, from the staging name it uses too (`<object>#<n>`).
use std::fs::{File, OpenOptions};
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use object_store::{MultipartUpload, PutPayload, PutResult, UploadPart};

#[derive(Debug)]
pub(super) struct LocalUpload {
    file: Arc<File>,
    staging: PathBuf,
    dest: PathBuf,
    /// Where the next part goes.
    offset: u64,
    /// Completed or aborted: the staging file is gone or renamed.
    settled: bool,
}

impl LocalUpload {
    /// Creates the staging file for an object stored at `dest`.
    pub(super) fn create(dest: PathBuf) -> object_store::Result<Self> {
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir).map_err(|e| store_error(&dest, e))?;
        }
        for n in 1u32.. {
            let mut staging = dest.clone().into_os_string();
            staging.push(format!("#{n}"));
            let staging = PathBuf::from(staging);
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&staging)
            {
                Ok(file) => {
                    return Ok(Self {
                        file: Arc::new(file),
                        staging,
                        dest,
                        offset: 0,
                        settled: false,
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(store_error(&staging, e)),
            }
        }
        unreachable!("some staging name is free")
    }
}

#[async_trait::async_trait]
impl MultipartUpload for LocalUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        let start = self.offset;
        self.offset += data.content_length() as u64;
        let file = Arc::clone(&self.file);
        let staging = self.staging.clone();
        Box::pin(blocking(staging, move || {
            use std::os::unix::fs::FileExt;
            let mut at = start;
            for chunk in data.iter() {
                file.write_all_at(chunk, at)?;
                at += chunk.len() as u64;
            }
            write_back(&file, start, at - start)
        }))
    }

    async fn complete(&mut self) -> object_store::Result<PutResult> {
        let file = Arc::clone(&self.file);
        let (staging, dest) = (self.staging.clone(), self.dest.clone());
        blocking(self.dest.clone(), move || {
            file.sync_all()?;
            std::fs::rename(&staging, &dest)?;
            if let Some(dir) = dest.parent() {
                File::open(dir)?.sync_all()?;
            }
            Ok(())
        })
        .await?;
        self.settled = true;
        Ok(PutResult {
            e_tag: None,
            version: None,
            extensions: Default::default(),
        })
    }

    async fn abort(&mut self) -> object_store::Result<()> {
        let staging = self.staging.clone();
        blocking(self.staging.clone(), move || std::fs::remove_file(&staging)).await?;
        self.settled = true;
        Ok(())
    }
}

impl Drop for LocalUpload {
    /// An upload dropped unfinished (its request was cancelled) leaves no staging file.
    fn drop(&mut self) {
        if !self.settled {
            std::fs::remove_file(&self.staging).ok();
        }
    }
}

/// Writes the range to disk and waits for it. Parts are flushed on blocking threads, several
/// at once, so the disk always has work queued while the next part arrives.
#[cfg(target_os = "linux")]
fn write_back(file: &File, offset: u64, len: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let flags = libc::SYNC_FILE_RANGE_WAIT_BEFORE
        | libc::SYNC_FILE_RANGE_WRITE
        | libc::SYNC_FILE_RANGE_WAIT_AFTER;
    // SAFETY: the descriptor is open for the whole call; the call reads no memory of ours.
    let rc = unsafe { libc::sync_file_range(file.as_raw_fd(), offset as i64, len as i64, flags) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Elsewhere the completing `fsync` writes everything back.
#[cfg(not(target_os = "linux"))]
fn write_back(_file: &File, _offset: u64, _len: u64) -> io::Result<()> {
    Ok(())
}

async fn blocking(
    path: PathBuf,
    work: impl FnOnce() -> io::Result<()> + Send + 'static,
) -> object_store::Result<()> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result.map_err(|e| store_error(&path, e)),
        Err(e) => Err(object_store::Error::JoinError { source: e }),
    }
}

fn store_error(path: &std::path::Path, source: io::Error) -> object_store::Error {
    object_store::Error::Generic {
        store: "LocalFileSystem",
        source: format!("{}: {source}", path.display()).into(),
    }
}
