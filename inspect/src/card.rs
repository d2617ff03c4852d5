//! Model cards: markdown with YAML front matter, as on Hugging Face, plus Bazaar's `demo:` block.
use pulldown_cmark::{html, CowStr, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use serde::Deserialize;

/// The front matter fields Bazaar understands; unknown keys are kept in the card text untouched.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct FrontMatter {
    pub license: Option<String>,
    pub library_name: Option<String>,
    pub pipeline_tag: Option<String>,
    #[serde(deserialize_with = "one_or_many")]
    pub tags: Vec<String>,
    #[serde(deserialize_with = "one_or_many")]
    pub datasets: Vec<String>,
    #[serde(deserialize_with = "one_or_many")]
    pub language: Vec<String>,
    #[serde(deserialize_with = "one_or_many")]
    pub base_model: Vec<String>,
    #[serde(deserialize_with = "one_or_many")]
    pub metrics: Vec<String>,
    pub demo: Option<DemoSpec>,
}

/// How the in-page demo feeds the model; see the card format in the README.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DemoSpec {
    pub file: String,
    pub task: String,
    #[serde(default)]
    pub labels: Option<String>,
    /// A text model's vocabulary (one token per line), which the page's widget reads.
    #[serde(default)]
    pub vocab: Option<String>,
    /// A Hugging Face `tokenizer.json` (WordPiece) the widget tokenises text with.
    #[serde(default)]
    pub tokenizer: Option<String>,
    #[serde(default)]
    pub input: Option<DemoInput>,
}

impl DemoSpec {
    /// The files the demo needs beside the model: public with it, since the page reads them.
    pub fn companions(&self) -> impl Iterator<Item = &str> {
        [
            self.labels.as_deref(),
            self.vocab.as_deref(),
            self.tokenizer.as_deref(),
        ]
        .into_iter()
        .flatten()
    }
}

/// What the demo's input is, in the card's words (the model itself says its names and shapes).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DemoInput {
    /// How to prepare a value, e.g. "sepal length, sepal width, … in cm" or "8x8 grayscale,
    /// 0..16 per pixel": the page shows it, and names a tabular model's fields from it.
    #[serde(default)]
    pub preprocessing: Option<String>,
}

/// Hugging Face cards write `tags: foo` as often as `tags: [foo]`.
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
        Nothing(()),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
        OneOrMany::Nothing(()) => Vec::new(),
    })
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("the model card's front matter is not valid YAML: {0}")]
pub struct CardError(String);

#[derive(Debug, Clone, PartialEq)]
pub struct ParsedCard<'a> {
    pub front_matter: FrontMatter,
    pub body: &'a str,
}

/// Splits `---\nYAML\n---\nbody`; a card without front matter is all body.
pub fn parse(card: &str) -> Result<ParsedCard<'_>, CardError> {
    let Some(rest) = card
        .strip_prefix("---\n")
        .or_else(|| card.strip_prefix("---\r\n"))
    else {
        return Ok(ParsedCard {
            front_matter: FrontMatter::default(),
            body: card,
        });
    };
    let (yaml, body) = match rest.find("\n---") {
        Some(end) => {
            let after = &rest[end + 4..];
            let body = after.split_once('\n').map_or("", |(_, body)| body);
            (&rest[..end], body)
        }
        None => return Err(CardError("the closing `---` line is missing".into())),
    };
    let front_matter = if yaml.trim().is_empty() {
        FrontMatter::default()
    } else {
        serde_norway::from_str(yaml).map_err(|e| CardError(e.to_string()))?
    };
    Ok(ParsedCard { front_matter, body })
}

/// The card's `demo:` block, if the card has one (and parses).
pub fn demo_spec(card: &str) -> Option<DemoSpec> {
    parse(card).ok()?.front_matter.demo
}

/// Renders card markdown to HTML that is safe to inline: publishers are untrusted, so raw HTML
/// is shown as text and only http(s), mailto and relative links survive. Headings move down a
/// level so the page's own `<h1>` stays the only one.
pub fn render_html(markdown: &str) -> String {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let events = Parser::new_ext(markdown, options).map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        Event::Start(Tag::Heading {
            level,
            id,
            classes,
            attrs,
        }) => Event::Start(Tag::Heading {
            level: demote(level),
            id,
            classes,
            attrs,
        }),
        Event::End(TagEnd::Heading(level)) => Event::End(TagEnd::Heading(demote(level))),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: safe_url(dest_url),
            title,
            id,
        }),
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Image {
            link_type,
            dest_url: safe_url(dest_url),
            title,
            id,
        }),
        other => other,
    });
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut out, events);
    out
}

fn demote(level: HeadingLevel) -> HeadingLevel {
    match level {
        HeadingLevel::H1 => HeadingLevel::H2,
        HeadingLevel::H2 => HeadingLevel::H3,
        HeadingLevel::H3 => HeadingLevel::H4,
        HeadingLevel::H4 => HeadingLevel::H5,
        HeadingLevel::H5 | HeadingLevel::H6 => HeadingLevel::H6,
    }
}

fn safe_url(url: CowStr<'_>) -> CowStr<'_> {
    let lower = url.trim_start().to_ascii_lowercase();
    let scheme = lower
        .split_once(':')
        .map(|(s, _)| s)
        .filter(|s| !s.contains('/'));
    match scheme {
        None | Some("http" | "https" | "mailto") => url,
        Some(_) => CowStr::Borrowed("#"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hugging_face_front_matter_and_the_demo_block() {
        let card = "---\nlicense: mit\ntags: vision\ndatasets: [digits]\npipeline_tag: image-classification\ndemo:\n  file: model.onnx\n  task: image-classification\n  labels: labels.txt\n---\n# Title\nBody\n";
        let parsed = parse(card).unwrap();
        assert_eq!(parsed.front_matter.license.as_deref(), Some("mit"));
        assert_eq!(parsed.front_matter.tags, vec!["vision"]);
        assert_eq!(parsed.front_matter.datasets, vec!["digits"]);
        assert_eq!(
            parsed.front_matter.demo.unwrap().labels.as_deref(),
            Some("labels.txt")
        );
        assert_eq!(parsed.body, "# Title\nBody\n");
    }

    #[test]
    fn card_without_front_matter_is_all_body() {
        let parsed = parse("# Just markdown").unwrap();
        assert_eq!(parsed.front_matter, FrontMatter::default());
        assert_eq!(parsed.body, "# Just markdown");
    }

    #[test]
    fn unterminated_or_invalid_front_matter_is_an_error() {
        assert!(parse("---\nlicense: mit\n# no end").is_err());
        assert!(parse("---\ntags: [unclosed\n---\n").is_err());
    }

    #[test]
    fn card_headings_sit_below_the_page_title() {
        let html = render_html("# Title\n\n## Usage\n\n###### Deep");
        assert!(html.contains("<h2>Title</h2>"), "{html}");
        assert!(html.contains("<h3>Usage</h3>"), "{html}");
        assert!(html.contains("<h6>Deep</h6>"), "{html}");
        assert!(!html.contains("<h1>"), "{html}");
    }

    #[test]
    fn rendering_neutralises_html_and_script_links() {
        let html = render_html("<script>alert(1)</script>\n\n[x](javascript:alert(1)) [ok](https://a.example/) [rel](docs/x.md)");
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(html.contains(r##"href="#""##), "{html}");
        assert!(html.contains(r#"href="https://a.example/""#), "{html}");
        assert!(html.contains(r#"href="docs/x.md""#), "{html}");
    }
}
