//! Rules for the names that appear in URLs: usernames (`/{owner}`) and model slugs
//! (`/{owner}/{slug}`), and version names.
use unicode_normalization::UnicodeNormalization;

use crate::error::{DomainError, DomainResult};

/// Top-level paths the site itself uses; no account may take them.
const RESERVED_NAMES: &[&str] = &[
    "admin",
    "api",
    "assets",
    "healthz",
    "readyz",
    "login",
    "logout",
    "signup",
    "settings",
    "pkg",
    "models",
    "new",
    "search",
    "static",
    "favicon.ico",
    "robots.txt",
    "checkout",
    "forgot-password",
    "reset-password",
    "verify-email",
    "favicon.svg",
];

/// ASCII letters (lowercase only unless `upper`), digits and single hyphens inside; `max`
/// characters at most.
fn check_url_name(field: &'static str, name: &str, max: usize, upper: bool) -> DomainResult<()> {
    if name.is_empty() || name.len() > max {
        return Err(DomainError::invalid(
            field,
            format!("must be 1 to {max} characters"),
        ));
    }
    let allowed = |b: u8| {
        b.is_ascii_lowercase()
            || b.is_ascii_digit()
            || b == b'-'
            || (upper && b.is_ascii_uppercase())
    };
    if !name.bytes().all(allowed) {
        let letters = if upper { "letters" } else { "a-z" };
        return Err(DomainError::invalid(
            field,
            format!("may contain only {letters}, 0-9 and '-'"),
        ));
    }
    if name.starts_with('-') || name.ends_with('-') || name.contains("--") {
        return Err(DomainError::invalid(
            field,
            "may not start or end with '-' or repeat it",
        ));
    }
    Ok(())
}

/// The form a username is stored in: NFKC, so look-alike compatibility characters (full-width
/// letters, ligatures) become the plain ones before any rule sees them.
pub fn normalize_username(raw: &str) -> String {
    raw.trim().nfkc().collect()
}

/// Checks a normalised username (see [`normalize_username`]).
pub fn check_username(name: &str) -> DomainResult<()> {
    check_url_name("username", name, 39, true)?;
    if RESERVED_NAMES.contains(&username_key(name).as_str()) {
        return Err(DomainError::invalid(
            "username",
            format!("'{name}' is reserved"),
        ));
    }
    Ok(())
}

/// The key under which usernames are unique, so `Alice`, `alice` and `ａｌｉｃｅ` are one name.
pub fn username_key(name: &str) -> String {
    normalize_username(name).to_lowercase()
}

pub fn check_slug(slug: &str) -> DomainResult<()> {
    check_url_name("slug", slug, 96, false)
}

/// Semver-ish: dot-separated alphanumerics with optional `-pre`/`+build`, e.g. `1.0.0`, `v2-rc1`.
pub fn check_version_name(version: &str) -> DomainResult<()> {
    let ok = !version.is_empty()
        && version.len() <= 64
        && version.starts_with(|c: char| c.is_ascii_alphanumeric())
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-+_".contains(c));
    if ok {
        Ok(())
    } else {
        Err(DomainError::invalid(
            "version",
            "use letters, digits and . - + _ (e.g. 1.0.0), at most 64",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_names() {
        assert!(check_username("sklearn-lab").is_ok());
        assert!(check_slug("digit-classifier-v2").is_ok());
        assert!(check_version_name("1.0.0-rc.1").is_ok());
    }

    #[test]
    fn rejects_names_that_would_break_urls_or_shadow_routes() {
        for bad in [
            "", "a b", "-lead", "trail-", "dou--ble", "../x", "api", "API", "pkg",
        ] {
            let err = check_username(bad).unwrap_err();
            assert!(err.to_string().starts_with("username:"), "{bad}: {err}");
        }
        assert!(check_slug(&"a".repeat(97)).is_err());
        assert!(check_slug("Upper").is_err(), "slugs are lowercase");
        assert!(check_version_name("../1").is_err());
        assert!(check_version_name("").is_err());
    }

    #[test]
    fn username_key_is_case_insensitive_after_nfkc() {
        assert_eq!(username_key("Sklearn-Lab"), username_key("sklearn-lab"));
        assert_eq!(
            username_key("ｓｋｌｅａｒｎ"),
            "sklearn",
            "full-width letters fold"
        );
        assert_eq!(normalize_username(" ﬁsh "), "fish", "ligatures fold");
        assert!(check_username(&normalize_username("Ａｌｉｃｅ")).is_ok());
    }
}

/// A file's name inside its version: one or more `/`-separated segments, none empty, `.` or `..`,
/// no control characters or backslashes, at most 255 bytes, so it can never escape its version.
pub fn check_file_path(path: &str) -> DomainResult<()> {
    let invalid = |message: &str| Err(DomainError::invalid("path", format!("{path:?}: {message}")));
    if path.is_empty() || path.len() > 255 {
        return invalid("must be 1 to 255 bytes");
    }
    if path.chars().any(|c| c.is_control() || c == '\\') {
        return invalid("may not contain control characters or backslashes");
    }
    if path
        .split('/')
        .any(|seg| seg.is_empty() || seg == "." || seg == "..")
    {
        return invalid("segments may not be empty, '.' or '..'");
    }
    Ok(())
}

#[cfg(test)]
mod path_tests {
    use super::check_file_path;

    #[test]
    fn file_paths_cannot_escape_their_version() {
        assert!(check_file_path("model.onnx").is_ok());
        assert!(check_file_path("tokenizer/vocab.txt").is_ok());
        for bad in [
            "../../etc/passwd",
            "/abs",
            "a//b",
            "a/./b",
            "a\\b",
            "nul\0",
            "",
            "x/",
        ] {
            assert!(check_file_path(bad).is_err(), "{bad:?} accepted");
        }
    }
}
