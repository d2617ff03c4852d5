//! Object storage for model files, behind `object_store` so a local directory and S3-compatible
//! stores are interchangeable by URL. Object keys are always generated here, never taken from a client.
use std::sync::Arc;

use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use object_store::{
    aws::{AmazonS3Builder, AmazonS3ConfigKey},
    local::LocalFileSystem,
    path::Path,
    MultipartUpload, ObjectStore, ObjectStoreExt, WriteMultipart,
};

use crate::digest::StreamDigest;

#[cfg(unix)]
mod local_upload;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("unsupported storage URL {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("invalid S3 storage settings: {0}")]
    BadS3Config(String),
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

/// An S3-compatible store given explicitly, without reading the environment.
#[derive(Clone, Default)]
pub struct S3Config {
    pub bucket: String,
    /// Key prefix inside the bucket (`""` for the bucket's root), e.g. `bazaar/prod`.
    pub prefix: String,
    /// `None` for AWS itself; e.g. `http://127.0.0.1:9000` for MinIO or moto.
    pub endpoint: Option<String>,
    /// `None` is `us-east-1`.
    pub region: Option<String>,
    /// Both `None`: the default AWS credential chain (web identity, container or instance role).
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// Allow a plain-HTTP endpoint (local stand-ins); TLS otherwise.
    pub allow_http: bool,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "<redacted>"),
            )
            .field("allow_http", &self.allow_http)
            .finish()
    }
}

#[derive(Clone, Debug)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    /// The directory of a local store, where unfinished uploads leave staging files.
    local_root: Option<std::path::PathBuf>,
}

impl Storage {
    /// `file:///abs/dir` (or a bare directory path) is a local directory, created if missing.
    /// `s3://bucket/optional/prefix` is an S3-compatible bucket configured from the `AWS_*`
    /// environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`,
    /// `AWS_ENDPOINT` or `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`, ...), as the AWS tools do.
    /// Any other scheme is handed to `object_store::parse_url`.
    pub fn from_url(url: &str) -> Result<Self, StorageError> {
        Self::from_url_and_env(url, std::env::vars_os())
    }

    /// [`Storage::from_url`] with the environment given rather than read from the process;
    /// only `AWS_*` variables are looked at, and only for `s3://` URLs.
    pub fn from_url_and_env<I, K, V>(url: &str, env: I) -> Result<Self, StorageError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<std::ffi::OsStr>,
        V: AsRef<std::ffi::OsStr>,
    {
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
            return Ok(Self {
                store: Arc::new(store),
                local_root: Some(dir.into()),
            });
        }
        let bad_url = |reason: String| StorageError::BadUrl {
            url: url.to_owned(),
            reason,
        };
        let parsed = url::Url::parse(url).map_err(|e| bad_url(e.to_string()))?;
        if matches!(parsed.scheme(), "s3" | "s3a") {
            let (bucket, prefix) = s3_bucket_and_prefix(&parsed).map_err(bad_url)?;
            let builder = aws_env_settings(env)
                .fold(AmazonS3Builder::new(), |builder, (key, value)| {
                    builder.with_config(key, value)
                })
                .with_bucket_name(bucket);
            let store = builder.build().map_err(|e| bad_url(e.to_string()))?;
            return Ok(Self::with_prefix(Arc::new(store), prefix));
        }
        let (store, prefix) =
            object_store::parse_url(&parsed).map_err(|e| bad_url(e.to_string()))?;
        Ok(Self::with_prefix(Arc::from(store), prefix))
    }

    /// An S3-compatible bucket from explicit settings; nothing is read from the environment.
    pub fn s3(config: S3Config) -> Result<Self, StorageError> {
        if config.bucket.is_empty() {
            return Err(StorageError::BadS3Config("the bucket name is empty".into()));
        }
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&config.bucket)
            .with_region(config.region.as_deref().unwrap_or("us-east-1"))
            .with_allow_http(config.allow_http);
        if let Some(endpoint) = &config.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        match (&config.access_key_id, &config.secret_access_key) {
            (Some(id), Some(secret)) => {
                builder = builder
                    .with_access_key_id(id)
                    .with_secret_access_key(secret);
            }
            (None, None) => {}
            _ => {
                return Err(StorageError::BadS3Config(
                    "give both the access key id and the secret access key, or neither".into(),
                ))
            }
        }
        let store = builder
            .build()
            .map_err(|e| StorageError::BadS3Config(e.to_string()))?;
        let prefix = Path::parse(config.prefix.trim_matches('/'))
            .map_err(|e| StorageError::BadS3Config(format!("prefix: {e}")))?;
        Ok(Self::with_prefix(Arc::new(store), prefix))
    }

    fn with_prefix(store: Arc<dyn ObjectStore>, prefix: Path) -> Self {
        if prefix.as_ref().is_empty() {
            Self::new(store)
        } else {
            Self::new(Arc::new(object_store::prefix::PrefixStore::new(
                store, prefix,
            )))
        }
    }

    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        Self {
            store,
            local_root: None,
        }
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
        let mut writer = self.begin_multipart(&key).await?;
        let digest = StreamDigest::default();
        let feed = digest.feed().await;
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
                writer.abort().await.ok();
                return Err(e.into());
            }
            let room = feed.room(chunk.len()).await;
            feed.push(room, chunk.clone());
            size += chunk.len() as u64;
            writer.put(chunk);
        }
        feed.close().await;
        writer.finish().await?;
        Ok(StoredObject {
            key,
            size,
            sha256: digest.finish().await,
        })
    }

    /// Starts a multipart upload into `key` for a caller that feeds it over several requests
    /// (resumable uploads). The caller finishes or aborts the writer; what an upload that was
    /// neither (the server stopped) left behind goes with [`Storage::discard_partial`].
    /// On a local store the parts reach the disk as they arrive (see `local_upload.rs`).
    pub async fn begin_multipart(&self, key: &str) -> Result<WriteMultipart, StorageError> {
        let upload: Box<dyn MultipartUpload> = match &self.local_root {
            #[cfg(unix)]
            Some(root) => {
                let dest = root.join(key);
                let created =
                    tokio::task::spawn_blocking(|| local_upload::LocalUpload::create(dest));
                Box::new(
                    created
                        .await
                        .map_err(|e| object_store::Error::JoinError { source: e })??,
                )
            }
            _ => self.store.put_multipart(&Path::from(key)).await?,
        };
        Ok(WriteMultipart::new(upload))
    }

    /// Removes the object at `key` and, on a local store, the staging files of uploads into
    /// `key` that were never finished. On S3, the parts of such an upload cannot be found
    /// through `object_store` (it does not list multipart uploads): give the bucket a lifecycle
    /// rule that aborts incomplete multipart uploads after a day.
    pub async fn discard_partial(&self, key: &str) -> Result<(), StorageError> {
        if let Some(root) = &self.local_root {
            let target = root.join(key);
            if let (Some(dir), Some(name)) = (target.parent(), target.file_name()) {
                let staging = format!("{}#", name.to_string_lossy());
                if let Ok(entries) = std::fs::read_dir(dir) {
                    for entry in entries.flatten() {
                        if entry.file_name().to_string_lossy().starts_with(&staging) {
                            std::fs::remove_file(entry.path()).ok();
                        }
                    }
                }
            }
        }
        self.delete(key).await
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

    /// The bytes `range` of the object (end exclusive), streamed: downloads and resumed
    /// downloads of files of any size.
    pub async fn stream_range(
        &self,
        key: &str,
        range: std::ops::Range<u64>,
    ) -> Result<impl Stream<Item = Result<Bytes, StorageError>>, StorageError> {
        let options = object_store::GetOptions {
            range: Some(object_store::GetRange::Bounded(range)),
            ..Default::default()
        };
        let result = self.store.get_opts(&Path::from(key), options).await?;
        Ok(result.into_stream().map_err(StorageError::from))
    }

    /// Removes the object; one that is already gone is not an error, so cleanup can be retried.
    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        match self.store.delete(&Path::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Readiness: the store answers and the bucket or directory is there. Listing (rather than
    /// fetching a probe object) tells a missing S3 bucket apart from a missing object.
    pub async fn check(&self) -> Result<(), StorageError> {
        self.store.list_with_delimiter(None).await?;
        Ok(())
    }
}

/// The bucket and key prefix of `s3://bucket/prefix`; everything else is set by `AWS_*` variables.
fn s3_bucket_and_prefix(url: &url::Url) -> Result<(String, Path), String> {
    let bucket = url.host_str().unwrap_or_default();
    if bucket.is_empty() {
        return Err("the bucket name is missing (expected s3://bucket/optional/prefix)".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "credentials do not belong in the URL; set AWS_ACCESS_KEY_ID and \
             AWS_SECRET_ACCESS_KEY"
                .into(),
        );
    }
    if url.port().is_some() || url.query().is_some() || url.fragment().is_some() {
        return Err(
            "only s3://bucket/prefix is accepted; set the endpoint, region and other \
             options with AWS_* variables"
                .into(),
        );
    }
    let valid_chars = bucket
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
    let valid_ends = bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !(3..=63).contains(&bucket.len()) || !valid_chars || !valid_ends {
        return Err(format!(
            "{bucket:?} is not a valid bucket name (3 to 63 lowercase letters, digits, dots \
             or hyphens, starting and ending with a letter or digit)"
        ));
    }
    let prefix = Path::from_url_path(url.path()).map_err(|e| format!("key prefix: {e}"))?;
    Ok((bucket.to_owned(), prefix))
}

/// The `AWS_*` variables that configure an S3 store, read the way
/// `AmazonS3Builder::from_env` reads them (unknown and non-UTF-8 ones are ignored).
fn aws_env_settings<I, K, V>(env: I) -> impl Iterator<Item = (AmazonS3ConfigKey, String)>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<std::ffi::OsStr>,
    V: AsRef<std::ffi::OsStr>,
{
    env.into_iter().filter_map(|(key, value)| {
        let key = key.as_ref().to_str()?;
        if !key.starts_with("AWS_") {
            return None;
        }
        let key = key.to_ascii_lowercase().parse().ok()?;
        Some((key, value.as_ref().to_str()?.to_owned()))
    })
}

// The behaviours shared by every backend (streaming, hashing, aborting, deleting, readiness)
// are tested in `domain/tests/storage.rs`, once for a local directory and once for S3 (moto).
#[cfg(test)]
mod tests {
    use super::*;

    const NO_ENV: [(&str, &str); 0] = [];

    fn bad_url_reason(url: &str) -> String {
        match Storage::from_url_and_env(url, NO_ENV) {
            Err(StorageError::BadUrl { url: named, reason }) => {
                assert_eq!(named, url);
                reason
            }
            other => panic!("{url}: expected BadUrl, got {other:?}"),
        }
    }

    #[test]
    fn rejects_unknown_schemes_with_the_url_named() {
        let err = Storage::from_url("ftp://example/bucket").unwrap_err();
        assert!(err.to_string().contains("ftp://example/bucket"), "{err}");
    }

    #[test]
    fn s3_url_without_a_bucket_is_refused_clearly() {
        for url in ["s3://", "s3:///models"] {
            let reason = bad_url_reason(url);
            assert!(reason.contains("bucket name is missing"), "{url}: {reason}");
        }
    }

    #[test]
    fn s3_url_with_an_invalid_bucket_name_is_refused() {
        for url in ["s3://My_Bucket/x", "s3://ab", "s3://-bucket"] {
            let reason = bad_url_reason(url);
            assert!(
                reason.contains("not a valid bucket name"),
                "{url}: {reason}"
            );
        }
    }

    #[test]
    fn s3_url_with_credentials_or_options_is_refused() {
        let reason = bad_url_reason("s3://key:secret@bucket/models");
        assert!(reason.contains("AWS_ACCESS_KEY_ID"), "{reason}");
        for url in [
            "s3://bucket/models?region=eu-west-1",
            "s3://bucket:9000/models",
        ] {
            let reason = bad_url_reason(url);
            assert!(reason.contains("AWS_* variables"), "{url}: {reason}");
        }
    }

    #[test]
    fn s3_url_builds_a_store_for_its_bucket_and_prefix() {
        let env = [
            ("AWS_ACCESS_KEY_ID", "id"),
            ("AWS_SECRET_ACCESS_KEY", "s3cr3t-value"),
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ENDPOINT", "http://127.0.0.1:1"),
            ("AWS_ALLOW_HTTP", "true"),
            ("UNRELATED", "ignored"),
        ];
        let storage = Storage::from_url_and_env("s3://models-bucket/bazaar/prod", env).unwrap();
        let shown = format!("{storage:?}");
        assert!(shown.contains("models-bucket"), "{shown}");
        assert!(shown.contains("bazaar/prod"), "{shown}");
        assert!(shown.contains("eu-west-1"), "{shown}");
        assert!(!shown.contains("s3cr3t-value"), "{shown}");
    }

    #[test]
    fn s3_settings_must_be_complete_and_are_not_printed() {
        let err = Storage::s3(S3Config::default()).unwrap_err();
        assert!(err.to_string().contains("bucket name is empty"), "{err}");
        let half = S3Config {
            bucket: "models".into(),
            secret_access_key: Some("hunter2".into()),
            ..S3Config::default()
        };
        assert!(!format!("{half:?}").contains("hunter2"));
        let err = Storage::s3(half).unwrap_err();
        assert!(err.to_string().contains("access key id"), "{err}");
    }
}
