//! Rules for the names that appear in URLs (usernames, organization names, model slugs,
//! version names) and for file paths. The rules live in [`inspect::names`]; here they return
//! [`DomainError::Invalid`] with the same field and message.
use crate::error::{DomainError, DomainResult};

pub use inspect::names::{normalize_username, username_key, NameError};

impl From<NameError> for DomainError {
    fn from(e: NameError) -> Self {
        DomainError::Invalid {
            field: e.field,
            message: e.message,
        }
    }
}

/// Checks a normalised username (see [`normalize_username`]).
pub fn check_username(name: &str) -> DomainResult<()> {
    Ok(inspect::names::check_username(name)?)
}

pub fn check_slug(slug: &str) -> DomainResult<()> {
    Ok(inspect::names::check_slug(slug)?)
}

/// Semver-ish: dot-separated alphanumerics with optional `-pre`/`+build`, e.g. `1.0.0`.
pub fn check_version_name(version: &str) -> DomainResult<()> {
    Ok(inspect::names::check_version_name(version)?)
}

/// A display name: free text, but no control or bidi control characters; see
/// [`inspect::names::check_display_name`].
pub fn check_display_name(field: &'static str, name: &str) -> DomainResult<()> {
    Ok(inspect::names::check_display_name(field, name)?)
}

/// A file's name inside its version; see [`inspect::names::check_file_path`].
pub fn check_file_path(path: &str) -> DomainResult<()> {
    Ok(inspect::names::check_file_path(path)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_keep_their_field_and_message() {
        match check_username("api").unwrap_err() {
            DomainError::Invalid { field, message } => {
                assert_eq!(field, "username");
                assert_eq!(message, "'api' is reserved");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            check_file_path("a//b").unwrap_err().to_string(),
            "path: \"a//b\": segments may not be empty, '.' or '..'"
        );
        assert!(check_slug("ok-slug").is_ok());
        match check_display_name("display_name", "Acme\u{202E}sbaL").unwrap_err() {
            DomainError::Invalid { field, message } => {
                assert_eq!(field, "display_name");
                assert!(message.contains("U+202E"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        assert!(check_display_name("display_name", "می\u{200C}خواهم").is_ok());
        assert!(check_version_name("1.0.0").is_ok());
    }
}
