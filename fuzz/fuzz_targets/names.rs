#![no_main]
//! Name rules: whatever they accept is safe in a URL segment or a file path.
use inspect::names::{
    check_display_name, check_file_path, check_slug, check_username, check_version_name,
    is_bidi_control, is_format_char, normalize_username, username_key,
};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let normalized = normalize_username(&text);
    if check_username(&normalized).is_ok() {
        assert!(normalized
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-'));
        assert_eq!(username_key(&normalized), normalized.to_lowercase());
    }
    if check_slug(&text).is_ok() {
        assert!(text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
    }
    if check_version_name(&text).is_ok() {
        assert!(!text.contains('/') && !text.contains('\\') && !text.contains('%'));
    }
    if check_file_path(&text).is_ok() {
        assert!(!text.starts_with('/') && !text.contains('\\'));
        assert!(text
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != ".."));
        assert!(!text.chars().any(|c| c.is_control() || is_format_char(c)));
    }
    if check_display_name("display_name", &text).is_ok() {
        assert!(!text.chars().any(|c| c.is_control() || is_bidi_control(c)));
    }
});
