//! Object storage behaviours, each written once and run on every backend: a local directory
//! and S3 (a `moto_server` on loopback; see `support/moto.rs` for how it is found). Assertions
//! about what is left behind look at the backing store itself, not through `Storage`.

#[path = "support/moto.rs"]
mod moto;

use std::sync::Arc;

use bytes::Bytes;
use domain::storage::{S3Config, Storage, StorageError, StoredObject};
use futures::{stream, TryStreamExt};
use sha2::{Digest, Sha256};

/// Where the S3 tests keep their objects inside their bucket, so the prefix is exercised too.
const S3_PREFIX: &str = "bazaar/test";

struct Fixture {
    storage: Storage,
    backend: Backend,
}

enum Backend {
    Local(tempfile::TempDir),
    S3 {
        moto: Arc<moto::Moto>,
        bucket: String,
    },
}

impl Fixture {
    fn local() -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::from_url(dir.path().to_str().unwrap()).unwrap();
        Some(Self {
            storage,
            backend: Backend::Local(dir),
        })
    }

    /// `None` (the test is skipped) when there is no moto_server to run.
    fn s3() -> Option<Self> {
        let Some(moto) = moto::shared() else {
            eprintln!(
                "skipped: moto_server not found (run scripts/setup.sh, or set {})",
                moto::BINARY_VAR
            );
            return None;
        };
        let bucket = moto.create_bucket();
        let storage = Storage::s3(s3_config(&moto, &bucket)).unwrap();
        Some(Self {
            storage,
            backend: Backend::S3 { moto, bucket },
        })
    }

    /// Everything in the backing store under the storage's root: objects by key, and (on S3)
    /// multipart uploads still open as `unfinished upload <key>`. Local staging files count too.
    fn leftovers(&self) -> Vec<String> {
        match &self.backend {
            Backend::Local(dir) => {
                let mut found = Vec::new();
                walk(dir.path(), dir.path(), &mut found);
                found
            }
            Backend::S3 { moto, bucket } => {
                let under_prefix = |key: String| {
                    key.strip_prefix(&format!("{S3_PREFIX}/"))
                        .map(str::to_owned)
                        .unwrap_or_else(|| format!("outside the prefix: {key}"))
                };
                let mut found: Vec<String> =
                    moto.keys(bucket).into_iter().map(under_prefix).collect();
                found.extend(
                    moto.unfinished_uploads(bucket)
                        .into_iter()
                        .map(|key| format!("unfinished upload {}", under_prefix(key))),
                );
                found
            }
        }
    }
}

fn s3_config(moto: &moto::Moto, bucket: &str) -> S3Config {
    S3Config {
        bucket: bucket.to_owned(),
        prefix: S3_PREFIX.to_owned(),
        endpoint: Some(moto.endpoint()),
        region: Some("us-east-1".to_owned()),
        access_key_id: Some("testing".to_owned()),
        secret_access_key: Some("testing".to_owned()),
        allow_http: true,
    }
}

fn walk(root: &std::path::Path, dir: &std::path::Path, found: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(root, &path, found);
        } else {
            found.push(path.strip_prefix(root).unwrap().display().to_string());
        }
    }
}

/// `len` bytes that differ from chunk to chunk and along each chunk, so a reordered, dropped
/// or repeated chunk changes the hash.
fn sample_bytes(len: usize) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 56) as u8
        })
        .collect()
}

fn chunked(bytes: &[u8], chunk: usize) -> Vec<Result<Bytes, std::io::Error>> {
    bytes
        .chunks(chunk)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect()
}

// ---- the behaviours, once --------------------------------------------------------------------

/// 12 MiB in odd-sized chunks: on S3 that is three multipart parts (5 + 5 + 2 MiB).
async fn streamed_object_has_the_hash_and_size_of_its_bytes(f: Fixture) {
    let expected = sample_bytes(12 * 1024 * 1024);
    let stored = f
        .storage
        .put_stream(stream::iter(chunked(&expected, 1_000_003)))
        .await
        .unwrap();
    assert_eq!(stored.size, expected.len() as u64);
    assert_eq!(stored.sha256, hex::encode(Sha256::digest(&expected)));
    assert!(stored.key.starts_with("objects/"), "{}", stored.key);

    assert_eq!(f.storage.read_all(&stored.key).await.unwrap(), expected);
    let streamed: Vec<Bytes> = f
        .storage
        .stream(&stored.key)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(streamed.concat(), expected);
    assert_eq!(f.leftovers(), vec![stored.key]);
}

/// The stream breaks after 10 MB (on S3, after parts were uploaded): the upload is aborted and
/// neither an object nor its parts remain.
async fn failed_stream_leaves_no_object(f: Fixture) {
    let parts = vec![
        Ok(Bytes::from(sample_bytes(10_000_000))),
        Err(std::io::Error::other("connection reset")),
    ];
    let err = f.storage.put_stream(stream::iter(parts)).await.unwrap_err();
    assert!(matches!(err, StorageError::Source(_)), "{err:?}");
    let leftovers = f.leftovers();
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
}

async fn small_objects_round_trip_and_deletion_is_final(f: Fixture) {
    let first = f
        .storage
        .put_bytes(Bytes::from_static(b"labels"))
        .await
        .unwrap();
    let second = f.storage.put_bytes(Bytes::new()).await.unwrap();
    assert_ne!(first.key, second.key);
    assert_eq!(
        second,
        StoredObject {
            key: second.key.clone(),
            size: 0,
            sha256: hex::encode(Sha256::digest(b"")),
        }
    );
    assert_eq!(f.storage.read_all(&first.key).await.unwrap(), "labels");
    assert_eq!(f.storage.read_all(&second.key).await.unwrap(), "");

    f.storage.delete(&first.key).await.unwrap();
    let err = f.storage.read_all(&first.key).await.unwrap_err();
    assert!(
        matches!(
            err,
            StorageError::Store(object_store::Error::NotFound { .. })
        ),
        "{err:?}"
    );
    // Deleting what is already gone is not an error (cleanup may run twice).
    f.storage.delete(&first.key).await.unwrap();
    assert_eq!(f.leftovers(), vec![second.key]);
}

async fn a_working_store_is_ready(f: Fixture) {
    f.storage.check().await.unwrap();
    f.storage.put_bytes(Bytes::from_static(b"x")).await.unwrap();
    f.storage.check().await.unwrap();
}

macro_rules! on_every_backend {
    ($($behaviour:ident),* $(,)?) => {
        mod local_storage {
            $(
                #[tokio::test]
                async fn $behaviour() {
                    if let Some(fixture) = super::Fixture::local() {
                        super::$behaviour(fixture).await;
                    }
                }
            )*
        }
        mod s3_storage {
            $(
                #[tokio::test]
                async fn $behaviour() {
                    if let Some(fixture) = super::Fixture::s3() {
                        super::$behaviour(fixture).await;
                    }
                }
            )*
        }
    };
}

on_every_backend!(
    streamed_object_has_the_hash_and_size_of_its_bytes,
    failed_stream_leaves_no_object,
    small_objects_round_trip_and_deletion_is_final,
    a_working_store_is_ready,
);

// ---- local only ------------------------------------------------------------------------------

mod local_storage_only {
    use super::*;

    /// An upload into `key` with `len` bytes written and none of its parts still in flight.
    async fn upload_in_progress(
        f: &Fixture,
        key: &str,
        len: usize,
    ) -> object_store::WriteMultipart {
        let mut writer = f.storage.begin_multipart(key).await.unwrap();
        writer.write(&sample_bytes(len));
        writer.wait_for_capacity(0).await.unwrap();
        writer
    }

    /// A server that stops mid-upload leaves a staging file; discarding the upload removes it.
    #[tokio::test]
    async fn discarding_a_stopped_upload_removes_its_staging_file() {
        let f = Fixture::local().unwrap();
        let key = Storage::new_object_key();
        let writer = upload_in_progress(&f, &key, 6 * 1024 * 1024).await;
        // As if the process had died: nothing finishes, aborts or drops the upload.
        std::mem::forget(writer);
        let staged = f.leftovers();
        assert_eq!(staged.len(), 1, "{staged:?}");
        assert!(staged[0].starts_with(&format!("{key}#")), "{staged:?}");

        f.storage.discard_partial(&key).await.unwrap();
        assert_eq!(f.leftovers(), Vec::<String>::new());
    }

    /// A request cancelled mid-upload drops its writer: the staging file goes with it.
    #[tokio::test]
    async fn a_dropped_upload_leaves_no_staging_file() {
        let f = Fixture::local().unwrap();
        let writer = upload_in_progress(&f, &Storage::new_object_key(), 11 * 1024 * 1024).await;
        assert_eq!(f.leftovers().len(), 1);
        drop(writer);
        assert_eq!(f.leftovers(), Vec::<String>::new());
    }
}

// ---- S3 only ---------------------------------------------------------------------------------

mod s3_storage_only {
    use super::*;

    #[tokio::test]
    async fn objects_land_under_the_prefix_in_the_bucket() {
        let Some(f) = Fixture::s3() else { return };
        let Backend::S3 { moto, bucket } = &f.backend else {
            unreachable!()
        };
        let stored = f
            .storage
            .put_bytes(Bytes::from_static(b"card"))
            .await
            .unwrap();
        assert_eq!(
            moto.keys(bucket),
            vec![format!("{S3_PREFIX}/{}", stored.key)]
        );
    }

    #[tokio::test]
    async fn s3_url_takes_endpoint_and_credentials_from_the_environment() {
        let Some(f) = Fixture::s3() else { return };
        let Backend::S3 { moto, bucket } = &f.backend else {
            unreachable!()
        };
        let env = [
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_ENDPOINT_URL", moto.endpoint()),
            ("AWS_ALLOW_HTTP", "true".to_owned()),
        ];
        let storage =
            Storage::from_url_and_env(&format!("s3://{bucket}/{S3_PREFIX}"), env).unwrap();
        storage.check().await.unwrap();
        let stored = storage
            .put_bytes(Bytes::from_static(b"via url"))
            .await
            .unwrap();
        // The store built from explicit settings sees the same object at the same key.
        assert_eq!(f.storage.read_all(&stored.key).await.unwrap(), "via url");
        assert_eq!(f.leftovers(), vec![stored.key]);
    }

    #[tokio::test]
    async fn a_missing_bucket_is_not_ready() {
        let Some(f) = Fixture::s3() else { return };
        let Backend::S3 { moto, .. } = &f.backend else {
            unreachable!()
        };
        let storage = Storage::s3(s3_config(moto, "no-such-bucket")).unwrap();
        let err = storage.check().await.unwrap_err();
        assert!(matches!(err, StorageError::Store(_)), "{err:?}");
    }
}
