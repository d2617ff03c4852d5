//! The one error type on the wire. Caller mistakes keep their message; internal failures are
//! logged server-side with their chain and reach the browser as an opaque message.
use leptos::prelude::{FromServerFnError, ServerFnErrorErr};
use leptos::server_fn::codec::JsonEncoding;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// `field` is the form field's name, for placing the message beside it; people read only
    /// the sentence [`in_words`] makes of the two.
    #[error("{}", in_words(field, message))]
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

/// A field's rule broken, as a sentence for people: the rules read as predicates ("must be at
/// least 12 characters") get the field's name in words as their subject; the rest already
/// address the reader ("enter an address like …") and only gain a capital and a full stop.
/// The internal field key never shows.
pub fn in_words(field: &str, message: &str) -> String {
    const PREDICATES: [&str; 9] = [
        "must ", "may ", "is ", "are ", "has ", "have ", "cannot ", "can't ", "does ",
    ];
    let message = message.trim();
    let sentence = if PREDICATES.iter().any(|p| message.starts_with(p)) {
        format!("{} {message}", field_in_words(field))
    } else if message.is_empty() {
        format!("{} is not valid", field_in_words(field))
    } else if starts_with_a_word(message) {
        let mut chars = message.chars();
        chars.next().map_or_else(String::new, |first| {
            first.to_uppercase().chain(chars).collect()
        })
    } else {
        // A name that starts the sentence (a file, `weights.pt`) keeps its spelling.
        message.to_owned()
    };
    if sentence.ends_with(['.', '!', '?']) {
        sentence
    } else {
        format!("{sentence}.")
    }
}

/// Whether `message` begins with a plain word (letters only), which a sentence capitalises.
fn starts_with_a_word(message: &str) -> bool {
    message
        .split_whitespace()
        .next()
        .is_some_and(|word| word.chars().all(char::is_alphabetic))
}

/// "current_password" → "Current password"; a few keys read differently from their names.
fn field_in_words(field: &str) -> String {
    let words = match field {
        "email" => "E-mail address",
        "slug" => "The name in URLs",
        "price_cents" => "The price",
        "expires_in_days" => "The expiry",
        "sha256" => "The SHA-256",
        "card" => "The model card",
        "query" => "The search",
        other => other,
    };
    let words = words.replace(['_', '.'], " ");
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => "This field".to_owned(),
    }
}

impl AppError {
    /// The form field an error is about, if it is about one.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Invalid { field, .. } => Some(field),
            _ => None,
        }
    }

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
        let unreadable = matches!(
            value,
            ServerFnErrorErr::Args(_) | ServerFnErrorErr::Deserialization(_)
        );
        let err = Self::Transport(value.to_string());
        // On the server, arguments it cannot read (a missing or malformed field) are the
        // caller's mistake: 400, not the 500 an error without a status gets.
        #[cfg(feature = "ssr")]
        if unreadable {
            return refuse(err);
        }
        let _ = unreadable;
        err
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

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(field: &str, message: &str) -> String {
        AppError::Invalid {
            field: field.to_owned(),
            message: message.to_owned(),
        }
        .to_string()
    }

    #[test]
    fn field_errors_read_as_sentences_without_internal_keys() {
        assert_eq!(
            shown("current_password", "this is not your current password"),
            "This is not your current password."
        );
        assert_eq!(
            shown("password", "must be at least 12 characters"),
            "Password must be at least 12 characters."
        );
        assert_eq!(
            shown(
                "new_password",
                "is one of the most commonly used passwords; please choose another"
            ),
            "New password is one of the most commonly used passwords; please choose another."
        );
        assert_eq!(
            shown("email", "enter an address like name@example.com"),
            "Enter an address like name@example.com."
        );
        assert_eq!(
            shown("price_cents", "must be whole cents"),
            "The price must be whole cents."
        );
        assert_eq!(
            shown("username", "'admin' is reserved."),
            "'admin' is reserved."
        );
        assert_eq!(
            shown("file", "weights.pt is refused because it is a pickle"),
            "weights.pt is refused because it is a pickle."
        );
        for (field, message) in [
            ("current_password", "must not be empty"),
            ("expires_in_days", "choose between 1 and 365 days"),
            ("display_name", "may not contain bidirectional controls"),
            ("catalog.toml", "expected a table"),
            ("new_password", ""),
        ] {
            let text = shown(field, message);
            assert!(!text.contains(field), "{text:?} shows the key {field:?}");
            assert!(!text.contains(": ") || message.contains(": "), "{text:?}");
            assert!(text.ends_with('.'), "{text:?}");
        }
    }

    /// Every field error the server can give, read from the rules' source: none shows its
    /// internal key (a key with `_` or `.`, or any key as a `key:` prefix) once in words.
    #[test]
    fn no_field_error_in_the_source_shows_its_key() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut errors = Vec::new();
        for dir in ["domain/src", "inspect/src", "app/src"] {
            collect_field_errors(&root.join(dir), &mut errors);
        }
        assert!(
            errors.len() > 50,
            "found only {} field errors",
            errors.len()
        );
        for (file, field, message) in errors {
            let text = shown(&field, &message);
            let leaks = text.starts_with(&format!("{field}:"))
                || (field.contains(['_', '.']) && text.contains(&field));
            assert!(!leaks, "{file}: {text:?} shows the key {field:?}");
        }
    }

    fn collect_field_errors(dir: &std::path::Path, out: &mut Vec<(String, String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                collect_field_errors(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let source = std::fs::read_to_string(&path).unwrap();
                for opener in ["invalid(", "NameError::new(", "Invalid {"] {
                    for (at, _) in source.match_indices(opener) {
                        let rest = &source[at + opener.len()..];
                        if let Some((field, message)) = field_and_message(rest) {
                            out.push((path.display().to_string(), field, message));
                        }
                    }
                }
            }
        }
    }

    /// `"field", "message"` or `"field", format!("message {x}")` (or the struct form) at the
    /// start of `rest`, whitespace allowed; placeholders become a sample value.
    fn field_and_message(rest: &str) -> Option<(String, String)> {
        let rest = rest.trim_start();
        let rest = rest.strip_prefix("field: ").unwrap_or(rest);
        let (field, rest) = string_literal(rest)?;
        let rest = rest
            .trim_start()
            .strip_prefix(".into()")
            .unwrap_or(rest.trim_start());
        let rest = rest.trim_start().strip_prefix(',')?.trim_start();
        let rest = rest.strip_prefix("message: ").unwrap_or(rest);
        let rest = rest.strip_prefix("format!(").unwrap_or(rest).trim_start();
        let (message, _) = string_literal(rest)?;
        Some((field, with_sample_values(&message)))
    }

    fn with_sample_values(format: &str) -> String {
        let mut out = String::new();
        let mut rest = format;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let Some(close) = rest[open..].find('}') else {
                break;
            };
            out.push_str("sample");
            rest = &rest[open + close + 1..];
        }
        out.push_str(rest);
        out
    }

    fn string_literal(text: &str) -> Option<(String, &str)> {
        let body = text.strip_prefix('"')?;
        let end = body.find('"')?;
        Some((body[..end].to_owned(), &body[end + 1..]))
    }
}
