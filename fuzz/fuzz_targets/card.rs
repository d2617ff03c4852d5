#![no_main]
//! Model cards: front matter parsing and the HTML renderer, which must never let raw HTML or a
//! script link through. Text can hold no `<` (the renderer escapes it), so every `<` in the
//! output opens a tag the renderer wrote; each link and image in those tags must point to an
//! http(s) or mailto URL, or a relative one, as a browser would read the attribute.
use inspect::card;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = card::demo_spec(&text);
    let body = match card::parse(&text) {
        Ok(parsed) => parsed.body,
        Err(_) => &text,
    };
    let html = card::render_html(body);
    for tag in html.split('<').skip(1) {
        let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
        let name = tag
            .split(|c: char| c.is_ascii_whitespace())
            .next()
            .unwrap_or("");
        let name = name.trim_start_matches('/').to_ascii_lowercase();
        assert!(
            ALLOWED_TAGS.contains(&name.as_str()),
            "tag <{tag}> in {html}"
        );
        for attr in ["href=\"", "src=\""] {
            let mut rest = tag;
            while let Some(at) = rest.find(attr) {
                let value = &rest[at + attr.len()..];
                let value = &value[..value.find('"').unwrap_or(value.len())];
                assert!(safe(value), "unsafe URL {value:?} in {html}");
                rest = &rest[at + attr.len()..];
            }
        }
    }
});

/// What CommonMark with tables, strikethrough and task lists renders to.
const ALLOWED_TAGS: &[&str] = &[
    "p",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "em",
    "strong",
    "del",
    "a",
    "img",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "hr",
    "br",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "input",
    "sup",
    "div",
    "span",
    "",
];

/// A URL a browser reads from the attribute: entities decoded, tabs and newlines dropped,
/// leading spaces and controls trimmed; its scheme, if any, must be http, https or mailto.
fn safe(value: &str) -> bool {
    let decoded = decode_entities(value);
    let url: String = decoded
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let url = url
        .trim_start_matches(|c: char| c <= ' ')
        .to_ascii_lowercase();
    let end = url.find(['/', '?', '#']).unwrap_or(url.len());
    match url[..end].split_once(':') {
        None => true,
        Some((scheme, _)) => matches!(scheme, "http" | "https" | "mailto"),
    }
}

fn decode_entities(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let end = rest.find(';').unwrap_or(0);
        let entity = &rest[1..end.max(1)];
        let c = match entity {
            "amp" => Some('&'),
            "quot" => Some('"'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "colon" => Some(':'),
            e if e.starts_with("#x") || e.starts_with("#X") => u32::from_str_radix(&e[2..], 16)
                .ok()
                .and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match c {
            Some(c) if end > 0 => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            _ => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}
