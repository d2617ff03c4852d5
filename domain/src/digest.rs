//! SHA-256 of a stream, computed beside it on a blocking thread. Hashing is the slowest step of
//! receiving a file (about 1 GB/s even with the CPU's SHA instructions); done in batches on
//! another thread it overlaps with reading the socket and writing the disk instead of adding
//! to them. The state is a value the caller keeps (an upload keeps it across requests), so a
//! request that is cut off loses nothing: the batch in flight finishes on its own.
use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::task::JoinHandle;

/// Bytes gathered before a batch goes to the hashing thread; at most two batches are held
/// (one hashing, one filling), and they share memory with the chunks being stored.
const BATCH_BYTES: usize = 8 << 20;

#[derive(Default)]
pub struct StreamDigest {
    state: State,
    batch: Vec<Bytes>,
    batch_bytes: usize,
}

enum State {
    Idle(Sha256),
    Hashing(JoinHandle<Sha256>),
}

impl Default for State {
    fn default() -> Self {
        State::Idle(Sha256::new())
    }
}

impl StreamDigest {
    /// Waits until another chunk may be pushed: while a full batch waits for the one before
    /// it to be hashed. Cancel-safe: nothing is lost if the caller stops waiting.
    pub async fn ready(&mut self) {
        if self.batch_bytes >= BATCH_BYTES {
            let hasher = self.idle().await;
            self.start(hasher);
        }
    }

    /// Takes the next chunk of the stream, in order; never waits.
    pub fn push(&mut self, chunk: Bytes) {
        self.batch_bytes += chunk.len();
        self.batch.push(chunk);
        if self.batch_bytes >= BATCH_BYTES {
            if let State::Idle(hasher) = &mut self.state {
                let hasher = std::mem::take(hasher);
                self.start(hasher);
            }
        }
    }

    /// The SHA-256 of everything pushed, as lowercase hex.
    pub async fn finish(mut self) -> String {
        if !self.batch.is_empty() {
            let hasher = self.idle().await;
            self.start(hasher);
        }
        hex::encode(self.idle().await.finalize())
    }

    fn start(&mut self, mut hasher: Sha256) {
        let batch = std::mem::take(&mut self.batch);
        self.batch_bytes = 0;
        self.state = State::Hashing(tokio::task::spawn_blocking(move || {
            for chunk in &batch {
                hasher.update(chunk);
            }
            hasher
        }));
    }

    /// The hasher once the batch in flight is done.
    async fn idle(&mut self) -> Sha256 {
        if let State::Hashing(task) = &mut self.state {
            let hasher = task.await.expect("hashing a batch does not panic");
            self.state = State::Idle(hasher);
        }
        match &mut self.state {
            State::Idle(hasher) => std::mem::take(hasher),
            State::Hashing(_) => unreachable!("the batch in flight was awaited above"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn matches_a_plain_sha256_across_batches_and_odd_chunks() {
        let data: Vec<u8> = (0..3 * BATCH_BYTES + 12_345)
            .map(|i| (i * 31 % 251) as u8)
            .collect();
        let mut digest = StreamDigest::default();
        let mut rest = &data[..];
        let mut size = 1;
        while !rest.is_empty() {
            let (chunk, tail) = rest.split_at(size.min(rest.len()));
            digest.ready().await;
            digest.push(Bytes::copy_from_slice(chunk));
            rest = tail;
            size = size * 7 % 3_000_007 + 1;
        }
        assert_eq!(digest.finish().await, hex::encode(Sha256::digest(&data)));
    }

    #[tokio::test]
    async fn an_abandoned_wait_loses_nothing() {
        let data = vec![7u8; 2 * BATCH_BYTES + 5];
        let mut digest = StreamDigest::default();
        for chunk in data.chunks(BATCH_BYTES / 2) {
            // Give up on every wait at once, as a request cut off mid-wait would.
            let _ = tokio::time::timeout(std::time::Duration::ZERO, digest.ready()).await;
            digest.push(Bytes::copy_from_slice(chunk));
        }
        assert_eq!(digest.finish().await, hex::encode(Sha256::digest(&data)));
    }

    #[tokio::test]
    async fn empty_stream() {
        assert_eq!(
            StreamDigest::default().finish().await,
            hex::encode(Sha256::digest(b""))
        );
    }
}
