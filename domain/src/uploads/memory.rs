//! The memory that uploads hold in this process, bounded as a whole.
//!
//! Every chunk an upload keeps (in the hash queue, in the part being filled, in parts being
//! written) is taken from one budget before it is accepted, and given back when its last copy
//! is dropped, wherever that happens: the chunk's bytes carry their share of the budget with
//! them. An idle upload's partial part and its inspector's state stay counted until the upload
//! ends. When the budget is spent, new bytes wait a little for parts being written to free
//! some, and are then refused (503 with Retry-After) rather than held: the server's memory
//! does not grow with the number of uploads, however they are sent.
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::DomainError;

/// What one chunk costs besides its bytes: its entries in the part's and the queue's lists.
const CHUNK_OVERHEAD: usize = 128;

/// How long new bytes wait for others to be written before the request is refused.
const WAIT: Duration = Duration::from_secs(5);

/// Seconds a refused client is asked to wait.
pub const RETRY_AFTER_SECONDS: u64 = 10;

#[derive(Clone)]
pub struct MemoryBudget {
    permits: Arc<Semaphore>,
    total: usize,
}

/// Budget held for bytes kept outside a `Bytes` (an inspector's state); given back on drop.
pub struct Reservation {
    permit: Option<OwnedSemaphorePermit>,
}

impl MemoryBudget {
    pub fn new(total_bytes: u64) -> Self {
        let total = usize::try_from(total_bytes)
            .unwrap_or(usize::MAX)
            .clamp(1, Semaphore::MAX_PERMITS);
        Self {
            permits: Arc::new(Semaphore::new(total)),
            total,
        }
    }

    pub fn total(&self) -> usize {
        self.total
    }

    /// Bytes not held by any upload right now.
    pub fn available(&self) -> usize {
        self.permits.available_permits()
    }

    /// Refuses at once when less than `needed` bytes are free (a new upload, a new request).
    pub fn check_room(&self, needed: usize) -> Result<(), DomainError> {
        if self.available() < needed.min(self.total) {
            return Err(exhausted());
        }
        Ok(())
    }

    /// Room for `bytes` held elsewhere for a while, taken now or refused at once.
    pub fn reserve_now(&self, bytes: usize) -> Result<Reservation, DomainError> {
        let n = u32::try_from(bytes.min(self.total)).unwrap_or(u32::MAX);
        match Arc::clone(&self.permits).try_acquire_many_owned(n) {
            Ok(permit) => Ok(Reservation {
                permit: Some(permit),
            }),
            Err(_) => Err(exhausted()),
        }
    }

    /// `bytes`, counted against the budget until every copy and slice of it is dropped. Waits a
    /// little for room, then refuses.
    pub async fn hold(&self, bytes: Bytes) -> Result<Bytes, DomainError> {
        let permit = self.acquire(bytes.len() + CHUNK_OVERHEAD).await?;
        Ok(Bytes::from_owner(Held {
            bytes,
            _permit: permit,
        }))
    }

    /// Resizes `reservation` to `bytes`, waiting a little for room when it grows.
    pub async fn resize(
        &self,
        reservation: &mut Reservation,
        bytes: usize,
    ) -> Result<(), DomainError> {
        let bytes = bytes.min(self.total);
        let held = reservation.permit.as_ref().map_or(0, |p| p.num_permits());
        if bytes > held {
            let more = self.acquire(bytes - held).await?;
            match &mut reservation.permit {
                Some(permit) => permit.merge(more),
                None => reservation.permit = Some(more),
            }
        } else if bytes < held {
            if let Some(permit) = &mut reservation.permit {
                drop(permit.split(held - bytes));
            }
        }
        Ok(())
    }

    async fn acquire(&self, bytes: usize) -> Result<OwnedSemaphorePermit, DomainError> {
        // One larger than the whole budget takes all of it.
        let n = u32::try_from(bytes.min(self.total)).unwrap_or(u32::MAX);
        let wanted = Arc::clone(&self.permits).acquire_many_owned(n);
        match tokio::time::timeout(WAIT, wanted).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(exhausted()),
        }
    }
}

impl Reservation {
    pub fn empty() -> Self {
        Self { permit: None }
    }

    pub fn bytes(&self) -> usize {
        self.permit.as_ref().map_or(0, |p| p.num_permits())
    }
}

fn exhausted() -> DomainError {
    DomainError::Unavailable {
        message: "the server is receiving as many uploads as its memory allows: try again in a \
                  moment (an upload in progress continues from its offset)"
            .into(),
        retry_after_seconds: RETRY_AFTER_SECONDS,
    }
}

struct Held {
    bytes: Bytes,
    _permit: OwnedSemaphorePermit,
}

impl AsRef<[u8]> for Held {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn held_bytes_count_until_their_last_slice_is_dropped() {
        let budget = MemoryBudget::new(1 << 20);
        let held = budget.hold(Bytes::from(vec![7u8; 1000])).await.unwrap();
        assert_eq!(budget.available(), (1 << 20) - 1000 - CHUNK_OVERHEAD);
        let mut part = held.clone();
        let tail = part.split_off(600);
        drop(held);
        drop(part);
        assert_eq!(budget.available(), (1 << 20) - 1000 - CHUNK_OVERHEAD);
        assert_eq!(tail.len(), 400);
        drop(tail);
        assert_eq!(budget.available(), 1 << 20);
    }

    #[tokio::test]
    async fn a_spent_budget_refuses_instead_of_growing() {
        let budget = MemoryBudget::new(10_000);
        let kept = budget.hold(Bytes::from(vec![0u8; 9_000])).await.unwrap();
        let refused = budget
            .hold(Bytes::from(vec![0u8; 2_000]))
            .await
            .unwrap_err();
        assert!(
            matches!(refused, DomainError::Unavailable { retry_after_seconds, .. } if retry_after_seconds > 0),
            "{refused:?}"
        );
        assert!(budget.check_room(2_000).is_err());
        assert!(budget.reserve_now(2_000).is_err());
        let small = budget.reserve_now(500).unwrap();
        assert_eq!(budget.available(), 10_000 - 9_000 - CHUNK_OVERHEAD - 500);
        drop(small);
        drop(kept);
        assert!(budget.check_room(2_000).is_ok());
        // A chunk larger than the whole budget still goes through, alone.
        let whole = budget.hold(Bytes::from(vec![0u8; 50_000])).await.unwrap();
        assert_eq!(budget.available(), 0);
        drop(whole);
        assert_eq!(budget.available(), 10_000);
    }

    #[tokio::test]
    async fn reservations_grow_shrink_and_give_back() {
        let budget = MemoryBudget::new(10_000);
        let mut reservation = Reservation::empty();
        budget.resize(&mut reservation, 4_000).await.unwrap();
        assert_eq!(budget.available(), 6_000);
        budget.resize(&mut reservation, 1_000).await.unwrap();
        assert_eq!((reservation.bytes(), budget.available()), (1_000, 9_000));
        assert!(budget.resize(&mut reservation, 20_000).await.is_ok());
        assert_eq!(budget.available(), 0, "capped at the whole budget");
        drop(reservation);
        assert_eq!(budget.available(), 10_000);
    }
}
