use crate::storage::StorageError;

/// What a domain service can refuse or fail with. `Invalid` and `NotFound` are the caller's
/// doing and are shown as they are; the rest are internal and shown opaquely.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unauthenticated(String),
    /// The right password, for an account whose e-mail address is not confirmed yet.
    #[error("{}", if *resent {
        "confirm your e-mail address to finish signing up: we have sent you a new link"
    } else {
        "confirm your e-mail address to finish signing up: follow the link in the newest e-mail we sent you"
    })]
    Unconfirmed { resent: bool },
    /// Known caller, not allowed to do this.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    TooLarge(String),
    /// Existed, and can no longer be used.
    #[error("{0}")]
    Gone(String),
    /// A resumable upload continued from the wrong place.
    #[error("the upload continues at byte {expected}")]
    OffsetMismatch { expected: u64 },
    #[error("too many attempts; try again in {retry_after_seconds} seconds")]
    RateLimited { retry_after_seconds: u64 },
    /// A limit the caller has reached and can free themselves (finish or cancel uploads).
    #[error("{0}")]
    LimitReached(String),
    /// The server is short of something for now (memory for uploads); worth trying again.
    #[error("{message}")]
    Unavailable {
        message: String,
        retry_after_seconds: u64,
    },
    #[error("database error")]
    Database(#[from] sea_orm::DbErr),
    #[error("storage error")]
    Storage(#[from] StorageError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl DomainError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            message: message.into(),
        }
    }
}

pub type DomainResult<T> = Result<T, DomainError>;
