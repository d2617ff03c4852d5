//! What the server sends the page: plain data, shared by both halves of the app.
use serde::{Deserialize, Serialize};

/// How a model is licensed, with what the buyer pays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LicenseBadge {
    Open {
        spdx: Option<String>,
    },
    Gated,
    Paid {
        price_cents: i64,
        currency: String,
    },
    Subscription {
        price_cents: i64,
        currency: String,
    },
    /// No active offer: listed but not obtainable.
    Unavailable,
}

impl LicenseBadge {
    /// Short label for the badge, e.g. `MIT`, `Gated`, `Paid`.
    pub fn label(&self) -> String {
        match self {
            Self::Open { spdx: Some(id) } => id.to_uppercase(),
            Self::Open { spdx: None } => "Open".into(),
            Self::Gated => "Gated".into(),
            Self::Paid { .. } => "Paid".into(),
            Self::Subscription { .. } => "Subscription".into(),
            Self::Unavailable => "Unavailable".into(),
        }
    }

    /// CSS modifier naming the kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Open { .. } => "open",
            Self::Gated => "gated",
            Self::Paid { .. } => "paid",
            Self::Subscription { .. } => "subscription",
            Self::Unavailable => "unavailable",
        }
    }

    /// `Free`, `$9.00` or `$3.00/month`.
    pub fn price(&self) -> String {
        match self {
            Self::Paid {
                price_cents,
                currency,
            } => format_money(*price_cents, currency),
            Self::Subscription {
                price_cents,
                currency,
            } => {
                format!("{}/month", format_money(*price_cents, currency))
            }
            Self::Unavailable => "—".into(),
            Self::Open { .. } | Self::Gated => "Free".into(),
        }
    }
}

pub fn format_money(cents: i64, currency: &str) -> String {
    let amount = format!("{}.{:02}", cents / 100, cents % 100);
    match currency {
        "usd" => format!("${amount}"),
        "eur" => format!("€{amount}"),
        other => format!("{amount} {}", other.to_uppercase()),
    }
}

/// A count in a few characters: `950`, `12.3K`, `4.5M`, `7.0B`.
pub fn format_count(count: u64) -> String {
    match count {
        0..1_000 => count.to_string(),
        1_000..1_000_000 => format!("{:.1}K", count as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1}M", count as f64 / 1e6),
        _ => format!("{:.1}B", count as f64 / 1e9),
    }
}

/// `1.2 MB`-style sizes (powers of 1000, as download sizes are usually quoted).
pub fn format_size(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelSummary {
    pub owner: String,
    pub owner_display_name: String,
    pub slug: String,
    pub name: String,
    pub summary: String,
    pub task: String,
    pub tags: Vec<String>,
    pub license: LicenseBadge,
    pub downloads: i64,
}

impl ModelSummary {
    pub fn href(&self) -> String {
        format!("/{}/{}", self.owner, self.slug)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: String,
    pub size: i64,
    pub sha256: String,
    pub format: String,
    /// What the header said, in a few words (opset, parameters, quantisation…).
    pub details: String,
    pub is_demo: bool,
    /// Where anyone may download it; None when a license is needed.
    pub download_url: Option<String>,
}

/// The REST address of a file of a version, each part percent-encoded.
pub fn download_url(owner: &str, slug: &str, version: &str, path: &str) -> String {
    let encode = |part: &str| -> String {
        part.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    let path: Vec<String> = path.split('/').map(encode).collect();
    format!(
        "/api/v1/models/{}/{}/versions/{}/files/{}",
        encode(owner),
        encode(slug),
        encode(version),
        path.join("/")
    )
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionEntry {
    pub version: String,
    pub changelog: String,
    /// `YYYY-MM-DD`.
    pub published_on: String,
    pub files: Vec<FileEntry>,
}

/// Facts from the card's front matter, shown beside it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardFacts {
    pub license: Option<String>,
    pub library: Option<String>,
    pub datasets: Vec<String>,
    pub languages: Vec<String>,
    pub base_models: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelDetail {
    pub summary: ModelSummary,
    /// Sanitised HTML rendered from the card's markdown.
    pub card_html: String,
    pub facts: CardFacts,
    /// Newest first.
    pub versions: Vec<VersionEntry>,
    /// The viewer publishes this listing: the page links to its upload and settings pages.
    pub can_edit: bool,
    /// The active offers, open ones first.
    pub offers: Vec<OfferEntry>,
    /// What the "Try it" panel runs: the latest version's demo file, when it has one.
    pub demo: Option<DemoPanel>,
}

/// The demo file the page runs in the browser, and what its card's `demo:` block says of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemoPanel {
    /// Always on Bazaar's own origin: the worker fetches it and checks its SHA-256.
    pub url: String,
    pub sha256: String,
    pub size: i64,
    /// The `demo:` block's task (`tabular-regression`, `image-classification`…), which picks
    /// the widget.
    pub task: String,
    /// The labels file the block names (one label per line).
    pub labels_url: Option<String>,
    /// A text model's vocabulary file (one token per line).
    pub vocab_url: Option<String>,
    /// A text model's Hugging Face `tokenizer.json` (WordPiece).
    pub tokenizer_url: Option<String>,
    /// How to prepare the input, in the card's words.
    pub preprocessing: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublisherProfile {
    pub username: String,
    pub display_name: String,
    pub bio: String,
    pub links: Vec<String>,
    pub avatar_url: Option<String>,
    pub models: Vec<ModelSummary>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_read_as_a_buyer_expects() {
        assert_eq!(
            LicenseBadge::Open {
                spdx: Some("mit".into())
            }
            .price(),
            "Free"
        );
        assert_eq!(
            LicenseBadge::Paid {
                price_cents: 900,
                currency: "usd".into()
            }
            .price(),
            "$9.00"
        );
        let sub = LicenseBadge::Subscription {
            price_cents: 1250,
            currency: "eur".into(),
        };
        assert_eq!(sub.price(), "€12.50/month");
        assert_eq!(
            LicenseBadge::Open {
                spdx: Some("apache-2.0".into())
            }
            .label(),
            "APACHE-2.0"
        );
    }

    #[test]
    fn sizes_are_human() {
        assert_eq!(format_size(713), "713 B");
        assert_eq!(format_size(10_322), "10.3 kB");
        assert_eq!(format_size(2_147_483_648), "2.1 GB");
    }
}

mod account;
mod licensing;
pub use licensing::*;
pub mod user_agent;
pub use account::*;
