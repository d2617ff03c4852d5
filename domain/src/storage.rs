//! Object storage for model files, behind `object_store` so a local directory and S3-compatible
//! stores are interchangeable by URL. Object keys are always generated here, never taken from a client.
use std::sync::Arc;

use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use object_store::{
    local::LocalFileSystem, path::Path, ObjectStore, ObjectStoreExt, WriteMultipart,
};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("unsupported storage URL {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("could not create the storage directory {path}: {source}")]
    CreateDir {
        path: String,
        source: std::io::Error,
    },
    #[error("the upload stream failed: {0}")]
    Source(std::io::Error),
    #[error(transparent)]
    Store(#[from] object_store::Error),
}

/// What was written: enough to record the file and check it later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub key: String,
    pub size: u64,
    pub sha256: String,
}

#[derive(Clone, Debug)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
}

impl Storage {
    /// `file:///abs/dir` (or a bare directory path) is a local directory, created if missing;
    /// any other scheme is handed to `object_store::parse_url`.
    pub fn from_url(url: &str) -> Result<Self, StorageError> {
        let local_dir = match url.strip_prefix("file://") {
            Some(path) => Some(path),
            None if !url.contains("://") => Some(url),
            None => None,
        };
        if let Some(dir) = local_dir {
            std::fs::create_dir_all(dir).map_err(|source| StorageError::CreateDir {
                path: dir.to_owned(),
                source,
            })?;
            let store = LocalFileSystem::new_with_prefix(dir)?.with_automatic_cleanup(true);
            return Ok(Self::new(Arc::new(store)));
        }
        let parsed = url::Url::parse(url).map_err(|e| StorageError::BadUrl {
            url: url.to_owned(),
            reason: e.to_string(),
        })?;
        let (store, prefix) =
            object_store::parse_url(&parsed).map_err(|e| StorageError::BadUrl {
                url: url.to_owned(),
                reason: e.to_string(),
            })?;
        let store: Arc<dyn ObjectStore> = if prefix.as_ref().is_empty() {
            Arc::from(store)
        } else {
            Arc::new(object_store::prefix::PrefixStore::new(store, prefix))
        };
        Ok(Self::new(store))
    }

    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        Self { store }
    }

    /// A fresh, unguessable key for a new object.
    pub fn new_object_key() -> String {
        format!("objects/{}", uuid::Uuid::now_v7())
    }

    /// Streams `body` into a new object with a multipart upload, hashing on the way, so no file
    /// is ever held whole in memory. On any error the upload is aborted and nothing remains.
    pub async fn put_stream<S>(&self, body: S) -> Result<StoredObject, StorageError>
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Unpin,
    {
        let key = Self::new_object_key();
        let upload = self.store.put_multipart(&Path::from(key.as_str())).await?;
        let mut writer = WriteMultipart::new(upload);
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut body = body;
        while let Some(chunk) = body.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => {
                    writer.abort().await.ok();
                    return Err(StorageError::Source(e));
                }
            };
            // Bound the bytes in flight so a fast client cannot fill memory.
            if let Err(e) = writer.wait_for_capacity(4).await {
                return Err(e.into());
            }
            hasher.update(&chunk);
            size += chunk.len() as u64;
            writer.put(chunk);
        }
        writer.finish().await?;
        Ok(StoredObject {
            key,
            size,
            sha256: hex::encode(hasher.finalize()),
        })
    }

    pub async fn put_bytes(&self, bytes: Bytes) -> Result<StoredObject, StorageError> {
        self.put_stream(futures::stream::iter([Ok(bytes)])).await
    }

    /// The whole object; for small files only (cards, labels). Large files are streamed.
    pub async fn read_all(&self, key: &str) -> Result<Bytes, StorageError> {
        Ok(self.store.get(&Path::from(key)).await?.bytes().await?)
    }

    pub async fn stream(
        &self,
        key: &str,
    ) -> Result<impl Stream<Item = Result<Bytes, StorageError>>, StorageError> {
        let result = self.store.get(&Path::from(key)).await?;
        Ok(result.into_stream().map_err(StorageError::from))
    }

    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        Ok(self.store.delete(&Path::from(key)).await?)
    }

    /// Readiness: the store answers. A missing object is a perfectly good answer.
    pub async fn check(&self) -> Result<(), StorageError> {
        match self.store.head(&Path::from(".readyz")).await {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn streamed_object_has_the_hash_and_size_of_its_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::from_url(dir.path().to_str().unwrap()).unwrap();
        let parts: Vec<Result<Bytes, std::io::Error>> = (0..50u8)
            .map(|i| Ok(Bytes::from(vec![i; 100_000])))
            .collect();
        let expected: Vec<u8> = (0..50u8).flat_map(|i| vec![i; 100_000]).collect();
        let stored = storage
            .put_stream(futures::stream::iter(parts))
            .await
            .unwrap();
        assert_eq!(stored.size, expected.len() as u64);
        assert_eq!(stored.sha256, hex::encode(Sha256::digest(&expected)));
        assert_eq!(storage.read_all(&stored.key).await.unwrap(), expected);
    }

    #[tokio::test]
    async fn failed_stream_leaves_no_object() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::from_url(dir.path().to_str().unwrap()).unwrap();
        let parts = vec![
            Ok(Bytes::from(vec![1u8; 10_000_000])),
            Err(std::io::Error::other("connection reset")),
        ];
        let err = storage
            .put_stream(futures::stream::iter(parts))
            .await
            .unwrap_err();
        assert!(matches!(err, StorageError::Source(_)));
        let leftovers: Vec<_> = walk(dir.path());
        assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
    }

    fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                found.extend(walk(&path));
            } else {
                found.push(path);
            }
        }
        found
    }

    #[test]
    fn rejects_unknown_schemes_with_the_url_named() {
        let err = Storage::from_url("ftp://example/bucket").unwrap_err();
        assert!(err.to_string().contains("ftp://example/bucket"), "{err}");
    }
}
