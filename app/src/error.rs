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
    #[error("something went wrong on our side; please try again")]
    Internal,
    #[error("{0}")]
    Transport(String),
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        Self::Transport(value.to_string())
    }
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
            internal => {
                tracing::error!(error = ?internal, "internal error");
                Self::Internal
            }
        }
    }
}
