//! SHA-256 of a stream, computed beside it on a blocking thread. Hashing is the slowest step of
//! receiving a file (about 1 GB/s even with the CPU's SHA instructions); on a thread of its own,
//! fed through a queue that may run [`AHEAD_BYTES`] ahead, it overlaps with reading the socket
//! and writing the disk instead of adding to them, and a short stall of either does not leave
//! it idle. The state is a value the caller keeps (an upload keeps it across requests): a
//! request that is cut off loses nothing, its queue is hashed before the next one's.
use std::sync::Arc;

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, Mutex, Semaphore, SemaphorePermit};
use tokio::task::JoinHandle;

/// How far the stream may run ahead of the hashing; these bytes share memory with the chunks
/// being stored.
const AHEAD_BYTES: usize = 32 << 20;

#[derive(Default)]
pub struct StreamDigest {
    /// Held by the thread of the feed in progress, so feeds are hashed one after another.
    hasher: Arc<Mutex<Sha256>>,
}

impl StreamDigest {
    /// Starts a feed: what it is given is hashed in order on a blocking thread, after all that
    /// earlier feeds were given.
    pub async fn feed(&self) -> DigestFeed {
        let mut hasher = Arc::clone(&self.hasher).lock_owned().await;
        let (queue, mut chunks) = mpsc::unbounded_channel::<Bytes>();
        let room = Arc::new(Semaphore::new(AHEAD_BYTES));
        let freed = Arc::clone(&room);
        let hashed = tokio::task::spawn_blocking(move || {
            while let Some(chunk) = chunks.blocking_recv() {
                hasher.update(&chunk);
                freed.add_permits(permits(chunk.len()) as usize);
            }
        });
        DigestFeed {
            queue,
            room,
            hashed,
        }
    }

    /// The SHA-256 of everything fed, as lowercase hex, once it is all hashed.
    pub async fn finish(self) -> String {
        let mut hasher = self.hasher.lock().await;
        hex::encode(std::mem::take(&mut *hasher).finalize())
    }
}

pub struct DigestFeed {
    queue: mpsc::UnboundedSender<Bytes>,
    room: Arc<Semaphore>,
    hashed: JoinHandle<()>,
}

/// Room in the queue for one chunk; given back if the chunk is not pushed.
pub struct Room<'a>(SemaphorePermit<'a>);

impl DigestFeed {
    /// Waits until a chunk of `len` bytes fits in the queue. Cancel-safe.
    pub async fn room(&self, len: usize) -> Room<'_> {
        Room(
            self.room
                .acquire_many(permits(len))
                .await
                .expect("the semaphore is never closed"),
        )
    }

    /// Queues the next chunk of the stream; never waits.
    pub fn push(&self, room: Room<'_>, chunk: Bytes) {
        room.0.forget(); // the hashing thread gives these back
        self.queue
            .send(chunk)
            .expect("the hashing thread runs until the queue closes");
    }

    /// Waits until everything pushed is hashed.
    pub async fn close(self) {
        drop(self.queue);
        self.hashed.await.expect("hashing does not panic");
    }
}

/// Room a chunk takes; one larger than the whole queue takes all of it.
fn permits(len: usize) -> u32 {
    len.min(AHEAD_BYTES) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[tokio::test]
    async fn matches_a_plain_sha256_across_feeds_and_odd_chunks() {
        let data = sample(2 * AHEAD_BYTES + 12_345);
        let digest = StreamDigest::default();
        let mut rest = &data[..];
        let mut size = 1;
        // Three feeds, as three requests of one upload.
        for share in [data.len() / 3, data.len() / 3, data.len()] {
            let feed = digest.feed().await;
            let mut fed = 0;
            while fed < share && !rest.is_empty() {
                let (chunk, tail) = rest.split_at(size.min(rest.len()));
                let room = feed.room(chunk.len()).await;
                feed.push(room, Bytes::copy_from_slice(chunk));
                fed += chunk.len();
                rest = tail;
                size = size * 7 % 3_000_007 + 1;
            }
            feed.close().await;
        }
        assert_eq!(digest.finish().await, hex::encode(Sha256::digest(&data)));
    }

    #[tokio::test]
    async fn a_feed_dropped_midway_is_hashed_before_the_next() {
        let data = sample(3 * AHEAD_BYTES);
        let (first, second) = data.split_at(AHEAD_BYTES * 2 + 7);
        let digest = StreamDigest::default();
        let feed = digest.feed().await;
        for chunk in first.chunks(1 << 20) {
            let room = feed.room(chunk.len()).await;
            feed.push(room, Bytes::copy_from_slice(chunk));
        }
        // A waiter given up on (a request cut off while waiting) queues nothing.
        let _ = tokio::time::timeout(std::time::Duration::ZERO, feed.room(AHEAD_BYTES)).await;
        drop(feed); // as a request cut off mid-stream: never closed
        let feed = digest.feed().await;
        for chunk in second.chunks(999_983) {
            let room = feed.room(chunk.len()).await;
            feed.push(room, Bytes::copy_from_slice(chunk));
        }
        feed.close().await;
        assert_eq!(digest.finish().await, hex::encode(Sha256::digest(&data)));
    }

    #[tokio::test]
    async fn a_chunk_larger_than_the_queue_still_goes_through() {
        let data = sample(AHEAD_BYTES + 1);
        let digest = StreamDigest::default();
        let feed = digest.feed().await;
        let room = feed.room(data.len()).await;
        feed.push(room, Bytes::copy_from_slice(&data));
        feed.close().await;
        assert_eq!(digest.finish().await, hex::encode(Sha256::digest(&data)));
    }

    #[tokio::test]
    async fn empty_stream() {
        let digest = StreamDigest::default();
        digest.feed().await.close().await;
        assert_eq!(digest.finish().await, hex::encode(Sha256::digest(b"")));
    }
}
