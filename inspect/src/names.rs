//! Rules for the names that appear in URLs: usernames and organization names (`/{owner}`),
//! model slugs (`/{owner}/{slug}`), version names; for file paths inside a version; and for
//! display names.
//!
//! Invisible characters make two names that look alike differ (`acme` and `ac\u{200B}me`) or
//! make text display in another order than it is stored (bidi overrides, as in the
//! "Trojan Source" attacks). Unicode's format characters (general category Cf: soft hyphen,
//! zero-width space/joiners, bidi controls, BOM, tag characters, ...) are refused in URL names
//! and file paths. Display names are free text in any script, so only the bidi controls (and
//! control characters) are refused there: ZWJ and ZWNJ stay, as Persian and Indic scripts
//! need them.
use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// Why a name is refused: the field it belongs to and a message for the person who typed it.
/// Shown as `field: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct NameError {
    pub field: &'static str,
    pub message: String,
}

impl NameError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

pub type NameResult<T> = Result<T, NameError>;

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

/// Unicode general category Cf: invisible characters that change how text is shown or joined.
pub fn is_format_char(c: char) -> bool {
    c.general_category() == GeneralCategory::Format
}

/// The bidirectional controls: embeddings and overrides (U+202A-U+202E), isolates
/// (U+2066-U+2069), the left-to-right, right-to-left and Arabic letter marks.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// The first format character in `text`, as `U+XXXX`, for messages.
fn first_format_char(text: &str) -> Option<String> {
    text.chars()
        .find(|&c| is_format_char(c))
        .map(|c| format!("U+{:04X}", c as u32))
}

/// The rule for one kind of name in URLs: ASCII letters (lower-case only unless `upper`),
/// digits and single hyphens inside, at most `max` characters. The forms show its [`hint`]
/// and [`html_pattern`], so what they say is what the server checks.
///
/// [`hint`]: UrlNameRule::hint
/// [`html_pattern`]: UrlNameRule::html_pattern
#[derive(Debug, Clone, Copy)]
pub struct UrlNameRule {
    pub field: &'static str,
    pub max: usize,
    pub upper: bool,
}

/// Usernames and organization names (`/{owner}`).
pub const USERNAME_RULE: UrlNameRule = UrlNameRule {
    field: "username",
    max: 39,
    upper: true,
};

/// Model slugs (`/{owner}/{slug}`).
pub const SLUG_RULE: UrlNameRule = UrlNameRule {
    field: "slug",
    max: 96,
    upper: false,
};

impl UrlNameRule {
    /// The rule in words, for the hint under the field.
    pub fn hint(&self) -> String {
        let letters = if self.upper {
            "Letters"
        } else {
            "Lower-case letters"
        };
        format!(
            "{letters}, digits and single dashes inside; at most {} characters.",
            self.max
        )
    }

    /// The same rule as an HTML `pattern`, so the browser can say so before sending.
    pub fn html_pattern(&self) -> &'static str {
        if self.upper {
            "[A-Za-z0-9]+(-[A-Za-z0-9]+)*"
        } else {
            "[a-z0-9]+(-[a-z0-9]+)*"
        }
    }

    pub fn check(&self, name: &str) -> NameResult<()> {
        let field = self.field;
        if let Some(c) = first_format_char(name) {
            return Err(NameError::new(
                field,
                format!("may not contain invisible formatting characters ({c})"),
            ));
        }
        if name.is_empty() || name.len() > self.max {
            return Err(NameError::new(
                field,
                format!("must be 1 to {} characters", self.max),
            ));
        }
        let allowed = |b: u8| {
            b.is_ascii_lowercase()
                || b.is_ascii_digit()
                || b == b'-'
                || (self.upper && b.is_ascii_uppercase())
        };
        if !name.bytes().all(allowed) {
            let letters = if self.upper { "letters" } else { "a-z" };
            return Err(NameError::new(
                field,
                format!("may contain only {letters}, 0-9 and '-'"),
            ));
        }
        if name.starts_with('-') || name.ends_with('-') || name.contains("--") {
            return Err(NameError::new(
                field,
                "may not start or end with '-' or repeat it",
            ));
        }
        Ok(())
    }
}

/// The form a username is stored in: NFKC, so look-alike compatibility characters (full-width
/// letters, ligatures) become the plain ones before any rule sees them.
pub fn normalize_username(raw: &str) -> String {
    raw.trim().nfkc().collect()
}

/// Checks a normalised username (see [`normalize_username`]).
pub fn check_username(name: &str) -> NameResult<()> {
    USERNAME_RULE.check(name)?;
    if RESERVED_NAMES.contains(&username_key(name).as_str()) {
        return Err(NameError::new("username", format!("'{name}' is reserved")));
    }
    Ok(())
}

/// The key under which usernames are unique, so `Alice`, `alice` and `ａｌｉｃｅ` are one name.
pub fn username_key(name: &str) -> String {
    normalize_username(name).to_lowercase()
}

pub fn check_slug(slug: &str) -> NameResult<()> {
    SLUG_RULE.check(slug)
}

/// Semver-ish: dot-separated alphanumerics with optional `-pre`/`+build`, e.g. `1.0.0`, `v2-rc1`.
pub fn check_version_name(version: &str) -> NameResult<()> {
    let ok = !version.is_empty()
        && version.len() <= 64
        && version.starts_with(|c: char| c.is_ascii_alphanumeric())
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-+_".contains(c));
    if ok {
        Ok(())
    } else {
        Err(NameError::new(
            "version",
            "use letters, digits and . - + _ (e.g. 1.0.0), at most 64",
        ))
    }
}

/// A display name (of a user, publisher or organization): free text in any script, but no
/// control characters and no bidi controls, which could make it show as something else (the
/// name of another account, or text that runs over what follows it on the page).
pub fn check_display_name(field: &'static str, name: &str) -> NameResult<()> {
    if let Some(c) = name.chars().find(|&c| is_bidi_control(c)) {
        return Err(NameError::new(
            field,
            format!(
                "may not contain bidirectional control characters (U+{:04X})",
                c as u32
            ),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(NameError::new(field, "may not contain control characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_readme_lists_every_reserved_name() {
        let readme = include_str!("../../README.md");
        for name in RESERVED_NAMES {
            assert!(
                readme.contains(&format!("`{name}`")),
                "README.md does not list '{name}'"
            );
        }
    }

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
pub fn check_file_path(path: &str) -> NameResult<()> {
    let invalid = |message: &str| Err(NameError::new("path", format!("{path:?}: {message}")));
    if path.is_empty() || path.len() > 255 {
        return invalid("must be 1 to 255 bytes");
    }
    if path.chars().any(|c| c.is_control() || c == '\\') {
        return invalid("may not contain control characters or backslashes");
    }
    if let Some(c) = first_format_char(path) {
        return invalid(&format!(
            "may not contain invisible formatting characters ({c})"
        ));
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
mod format_char_tests {
    use super::*;

    /// Format characters of each kind: soft hyphen, ZWSP, ZWNJ, ZWJ, word joiner, LRM/RLM,
    /// ALM, bidi embeddings/overrides and isolates, BOM, invisible operators, interlinear
    /// annotation, Mongolian vowel separator, tag characters (language tag, tag letters, cancel).
    const FORMAT: &[char] = &[
        '\u{00AD}',
        '\u{200B}',
        '\u{200C}',
        '\u{200D}',
        '\u{2060}',
        '\u{200E}',
        '\u{200F}',
        '\u{061C}',
        '\u{202A}',
        '\u{202B}',
        '\u{202C}',
        '\u{202D}',
        '\u{202E}',
        '\u{2066}',
        '\u{2067}',
        '\u{2068}',
        '\u{2069}',
        '\u{FEFF}',
        '\u{2062}',
        '\u{FFF9}',
        '\u{180E}',
        '\u{E0001}',
        '\u{E0041}',
        '\u{E007F}',
        '\u{0600}',
        '\u{110BD}',
    ];
    const BIDI: &[char] = &[
        '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}',
        '\u{2068}', '\u{2069}', '\u{200E}', '\u{200F}', '\u{061C}',
    ];

    #[test]
    fn every_kind_of_format_character_is_one() {
        for &c in FORMAT {
            assert!(is_format_char(c), "U+{:04X}", c as u32);
        }
        for c in ['a', ' ', '-', 'é', 'ی', '\u{0915}', '\u{094D}', '\n', '😀'] {
            assert!(!is_format_char(c), "U+{:04X}", c as u32);
        }
        for &c in BIDI {
            assert!(
                is_bidi_control(c) && is_format_char(c),
                "U+{:04X}",
                c as u32
            );
        }
        assert!(!is_bidi_control('\u{200D}') && !is_bidi_control('\u{200C}'));
    }

    #[test]
    fn url_names_and_paths_refuse_format_characters_with_a_reason() {
        for &c in FORMAT {
            let name = format!("ac{c}me");
            let e = check_username(&name).unwrap_err();
            assert_eq!(e.field, "username");
            assert!(
                e.message.contains("invisible formatting characters (U+"),
                "{name:?}: {e}"
            );
            assert!(
                check_username(&normalize_username(&name)).is_err(),
                "{name:?}"
            );
            assert!(check_slug(&format!("my-{c}model")).is_err(), "{name:?}");
            let e = check_file_path(&format!("weights/model{c}.onnx")).unwrap_err();
            assert!(e.message.contains("invisible formatting"), "{e}");
        }
        let e = check_file_path("evil\u{202E}txt.onnx").unwrap_err();
        assert!(e.message.contains("U+202E"), "{e}");
        assert!(check_file_path("tokenizer/vocab.txt").is_ok());
        assert!(
            check_file_path("données/modèle.onnx").is_ok(),
            "letters of any script pass"
        );
    }

    #[test]
    fn display_names_refuse_bidi_controls_and_keep_joiners() {
        for &c in BIDI {
            let e = check_display_name("display_name", &format!("Acme{c} Labs")).unwrap_err();
            assert_eq!(e.field, "display_name");
            assert!(e.message.contains("bidirectional"), "{e}");
        }
        // Persian with ZWNJ (می‌خواهم), Devanagari with ZWJ, Sinhala with ZWJ, an emoji sequence.
        for ok in [
            "می\u{200C}خواهم",
            "\u{0915}\u{094D}\u{200D}\u{0937}",
            "\u{0DC1}\u{0DCA}\u{200D}\u{0DBB}\u{0DD3}",
            "👩\u{200D}🔬 Lab",
            "Acme Labs",
            "شرکت آزمایشی",
        ] {
            assert!(check_display_name("display_name", ok).is_ok(), "{ok:?}");
        }
        assert!(check_display_name("display_name", "two\nlines").is_err());
    }
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
