//! The one error type on the wire. Caller mistakes keep their message; internal failures are
//! logged server-side with their chain and reach the browser as an opaque message.
use leptos::prelude::{FromServerFnError, ServerFnErrorErr};
use leptos::server_fn::codec::JsonEncoding;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    Gone(String),
    #[error("too many attempts; try again in {retry_after_seconds} seconds")]
    RateLimited { retry_after_seconds: u64 },
    #[error("{0}")]
    LimitReached(String),
    #[error("{message}")]
    Unavailable {
        message: String,
        retry_after_seconds: u64,
    },
    #[error("something went wrong on our side; please try again")]
    Internal,
    #[error("{0}")]
    Transport(String),
}

impl AppError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> http::StatusCode {
        use http::StatusCode;
        match self {
            Self::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Gone(_) => StatusCode::GONE,
            Self::RateLimited { .. } | Self::LimitReached(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Transport(_) => StatusCode::BAD_REQUEST,
        }
    }

    /// Seconds the client should wait before trying again (`Retry-After`), where that helps.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::RateLimited {
                retry_after_seconds,
            }
            | Self::Unavailable {
                retry_after_seconds,
                ..
            } => Some(*retry_after_seconds),
            _ => None,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        Self::Transport(value.to_string())
    }
}

/// Converts a domain result for a server function, answering with the error's status.
#[cfg(feature = "ssr")]
pub fn respond<T>(result: Result<T, domain::DomainError>) -> Result<T, AppError> {
    result.map_err(|err| refuse(err.into()))
}

/// Sets the response's status (and `Retry-After`) for an error a server function returns,
/// whether it was called directly or while rendering a page. A plain HTML form post (no
/// JavaScript) is the exception: it must stay a redirect back to the form, which shows the
/// error carried in the URL.
#[cfg(feature = "ssr")]
pub fn refuse(err: AppError) -> AppError {
    use leptos::prelude::use_context;
    let form_post = use_context::<http::request::Parts>().is_some_and(|parts| {
        parts.method == http::Method::POST
            && parts
                .headers
                .get(http::header::ACCEPT)
                .and_then(|accept| accept.to_str().ok())
                .is_some_and(|accept| accept.contains("text/html"))
    });
    if let (false, Some(response)) = (form_post, use_context::<leptos_axum::ResponseOptions>()) {
        response.set_status(err.status());
        if let Some(retry_after_seconds) = err.retry_after() {
            response.insert_header(http::header::RETRY_AFTER, retry_after_seconds.into());
        }
    }
    err
}

#[cfg(feature = "ssr")]
impl From<domain::DomainError> for AppError {
    fn from(err: domain::DomainError) -> Self {
        use domain::DomainError as E;
        match err {
            E::Invalid { field, message } => Self::Invalid {
                field: field.to_owned(),
                message,
            },
            E::NotFound(what) => Self::NotFound(what.to_owned()),
            E::Conflict(message) => Self::Conflict(message),
            E::Unauthenticated(message) => Self::Unauthenticated(message),
            E::Forbidden(message) => Self::Forbidden(message),
            unconfirmed @ E::Unconfirmed { .. } => Self::Forbidden(unconfirmed.to_string()),
            E::TooLarge(message) => Self::TooLarge(message),
            E::Gone(message) => Self::Gone(message),
            E::OffsetMismatch { expected } => {
                Self::Conflict(format!("the upload continues at byte {expected}"))
            }
            E::RateLimited {
                retry_after_seconds,
            } => Self::RateLimited {
                retry_after_seconds,
            },
            E::LimitReached(message) => Self::LimitReached(message),
            E::Unavailable {
                message,
                retry_after_seconds,
            } => Self::Unavailable {
                message,
                retry_after_seconds,
            },
            internal => {
                tracing::error!(error = ?internal, "internal error");
                Self::Internal
            }
        }
    }
}
