//! What a listing offers: its license terms and prices, checked once here for every caller
//! (the listing's settings page, `/new`, the REST API, `bazaar push` and the seed).
use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use sha2::{Digest, Sha256};

use crate::catalog::LicenseKind;
use crate::entities::{license_offer, model_version};
use crate::error::{DomainError, DomainResult};
use crate::payments::provider::BillingInterval;

/// The open licenses a listing may choose from (SPDX identifiers, and the RAIL family's
/// names as the Hub spells them), with their names in words.
pub const OPEN_LICENSES: &[(&str, &str)] = &[
    ("Apache-2.0", "Apache License 2.0"),
    ("MIT", "MIT License"),
    ("BSD-3-Clause", "BSD 3-Clause License"),
    ("BSD-2-Clause", "BSD 2-Clause License"),
    ("MPL-2.0", "Mozilla Public License 2.0"),
    ("GPL-3.0-only", "GNU General Public License v3.0"),
    ("LGPL-3.0-only", "GNU Lesser General Public License v3.0"),
    ("AGPL-3.0-only", "GNU Affero General Public License v3.0"),
    ("CC0-1.0", "Creative Commons Zero v1.0"),
    ("CC-BY-4.0", "Creative Commons Attribution 4.0"),
    (
        "CC-BY-SA-4.0",
        "Creative Commons Attribution Share Alike 4.0",
    ),
    (
        "CC-BY-NC-4.0",
        "Creative Commons Attribution Non Commercial 4.0",
    ),
    ("OpenRAIL", "Open Responsible AI License"),
    ("OpenRAIL-M", "Open RAIL for models"),
    ("Unlicense", "The Unlicense"),
];

/// A currency prices may be set in: its ISO 4217 code (lower case, as Stripe writes it) and
/// how many digits its minor unit has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Currency {
    pub code: &'static str,
    pub exponent: u32,
}

pub const CURRENCIES: &[Currency] = &[
    Currency {
        code: "usd",
        exponent: 2,
    },
    Currency {
        code: "eur",
        exponent: 2,
    },
    Currency {
        code: "gbp",
        exponent: 2,
    },
    Currency {
        code: "chf",
        exponent: 2,
    },
    Currency {
        code: "cad",
        exponent: 2,
    },
    Currency {
        code: "aud",
        exponent: 2,
    },
    Currency {
        code: "sek",
        exponent: 2,
    },
    Currency {
        code: "nok",
        exponent: 2,
    },
    Currency {
        code: "dkk",
        exponent: 2,
    },
    Currency {
        code: "pln",
        exponent: 2,
    },
    Currency {
        code: "inr",
        exponent: 2,
    },
    Currency {
        code: "brl",
        exponent: 2,
    },
    Currency {
        code: "jpy",
        exponent: 0,
    },
    Currency {
        code: "krw",
        exponent: 0,
    },
];

impl Currency {
    pub fn parse(raw: &str) -> Option<Currency> {
        let raw = raw.trim().to_ascii_lowercase();
        CURRENCIES.iter().copied().find(|c| c.code == raw)
    }

    /// `amount_minor` in words, e.g. "9.00 USD" or "1,200 JPY".
    pub fn format(self, amount_minor: i64) -> String {
        let scale = 10i64.pow(self.exponent);
        let whole = group_thousands(amount_minor / scale);
        let code = self.code.to_ascii_uppercase();
        if self.exponent == 0 {
            format!("{whole} {code}")
        } else {
            let cents = amount_minor % scale;
            let width = self.exponent as usize;
            format!("{whole}.{cents:0width$} {code}")
        }
    }

    /// A price typed by a person ("9", "9.5", "1,200.00") in minor units. Never a float.
    pub fn parse_amount(self, raw: &str) -> Result<i64, String> {
        let raw: String = raw
            .trim()
            .chars()
            .filter(|c| *c != ',' && *c != '_')
            .collect();
        let (whole, fraction) = raw.split_once('.').unwrap_or((&raw, ""));
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(whole) || (!fraction.is_empty() && !digits(fraction)) || raw.ends_with('.') {
            return Err("write the price as a number, like 9 or 9.50".into());
        }
        if fraction.len() > self.exponent as usize {
            return Err(match self.exponent {
                0 => format!(
                    "{} has no minor unit: write a whole number",
                    self.code.to_ascii_uppercase()
                ),
                n => format!("at most {n} digits after the point"),
            });
        }
        let padded = format!("{fraction:0<width$}", width = self.exponent as usize);
        format!("{whole}{padded}")
            .parse::<i64>()
            .map_err(|_| "that price is too large".to_string())
    }
}

fn group_thousands(n: i64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The smallest and largest charge, in minor units: card networks refuse tiny charges, and
/// Stripe's limit is eight digits.
pub const MIN_PRICE_MINOR: i64 = 50;
pub const MAX_PRICE_MINOR: i64 = 99_999_999;
/// The longest terms text, in characters.
pub const MAX_TERMS_CHARS: usize = 20_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seat {
    /// For the buyer alone.
    Individual,
    /// For every member of the organization that buys it.
    Organization,
}

impl Seat {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Individual => "individual",
            Self::Organization => "organization",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "individual" => Some(Self::Individual),
            "organization" => Some(Self::Organization),
            _ => None,
        }
    }
}

/// Which versions a one-time license covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Covers {
    /// The versions published when it was bought.
    Published,
    /// Every version below the next major one (SemVer listings only).
    UntilNextMajor,
}

impl Covers {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Published => "published",
            Self::UntilNextMajor => "major",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "published" => Some(Self::Published),
            "major" => Some(Self::UntilNextMajor),
            _ => None,
        }
    }
}

/// Whether a gated listing's requests are granted on acceptance or wait for the publisher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approval {
    Instant,
    Manual,
}

impl Approval {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Instant => "instant",
            Self::Manual => "manual",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "instant" => Some(Self::Instant),
            "manual" => Some(Self::Manual),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Price {
    pub amount_minor: i64,
    pub currency: Currency,
}

impl Price {
    pub fn in_words(self) -> String {
        self.currency.format(self.amount_minor)
    }
}

/// An offer's terms, each kind with exactly the fields it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfferTerms {
    Open {
        spdx: &'static str,
    },
    Gated {
        approval: Approval,
    },
    OneTime {
        price: Price,
        seat: Seat,
        covers: Covers,
    },
    Subscription {
        price: Price,
        seat: Seat,
        interval: BillingInterval,
    },
}

impl OfferTerms {
    pub fn kind(&self) -> LicenseKind {
        match self {
            Self::Open { .. } => LicenseKind::Open,
            Self::Gated { .. } => LicenseKind::Gated,
            Self::OneTime { .. } => LicenseKind::Paid,
            Self::Subscription { .. } => LicenseKind::Subscription,
        }
    }

    pub fn price(&self) -> Option<Price> {
        match self {
            Self::OneTime { price, .. } | Self::Subscription { price, .. } => Some(*price),
            _ => None,
        }
    }

    pub fn seat(&self) -> Seat {
        match self {
            Self::OneTime { seat, .. } | Self::Subscription { seat, .. } => *seat,
            _ => Seat::Individual,
        }
    }

    /// The stored offer's terms; `None` for a row no rule here would have written.
    pub fn of(offer: &license_offer::Model) -> Option<Self> {
        let price = || {
            Some(Price {
                amount_minor: offer.price_cents,
                currency: Currency::parse(&offer.currency)?,
            })
        };
        let seat = || Seat::parse(&offer.seat);
        Some(match LicenseKind::parse(&offer.kind)? {
            LicenseKind::Open => Self::Open {
                spdx: open_license(offer.spdx.as_deref()?)?.0,
            },
            LicenseKind::Gated => Self::Gated {
                approval: offer
                    .approval
                    .as_deref()
                    .and_then(Approval::parse)
                    .unwrap_or(Approval::Manual),
            },
            LicenseKind::Paid => Self::OneTime {
                price: price()?,
                seat: seat()?,
                covers: offer
                    .covers
                    .as_deref()
                    .and_then(Covers::parse)
                    .unwrap_or(Covers::Published),
            },
            LicenseKind::Subscription => Self::Subscription {
                price: price()?,
                seat: seat()?,
                interval: offer
                    .billing_interval
                    .as_deref()
                    .and_then(BillingInterval::parse)
                    .unwrap_or(BillingInterval::Month),
            },
        })
    }

    /// What it gives, in a few words, e.g. "9.00 USD once, for an organization".
    pub fn in_words(&self) -> String {
        let seat = |seat: Seat| match seat {
            Seat::Individual => "",
            Seat::Organization => ", for an organization",
        };
        match self {
            Self::Open { spdx } => format!("Free under {spdx}"),
            Self::Gated {
                approval: Approval::Instant,
            } => "Free after accepting the terms".into(),
            Self::Gated {
                approval: Approval::Manual,
            } => "Free after the publisher approves your request".into(),
            Self::OneTime {
                price,
                seat: s,
                covers,
            } => format!(
                "{} once{}, {}",
                price.in_words(),
                seat(*s),
                match covers {
                    Covers::Published => "for the versions published so far",
                    Covers::UntilNextMajor => "for every version up to the next major",
                }
            ),
            Self::Subscription {
                price,
                seat: s,
                interval,
            } => format!("{} a {}{}", price.in_words(), interval.as_str(), seat(*s)),
        }
    }
}

fn open_license(raw: &str) -> Option<(&'static str, &'static str)> {
    let raw = raw.trim();
    OPEN_LICENSES
        .iter()
        .copied()
        .find(|(id, _)| id.eq_ignore_ascii_case(raw))
}

/// An offer as a form or a client sends it: every field text, as typed.
#[derive(Debug, Clone, Default)]
pub struct OfferInput<'a> {
    pub kind: &'a str,
    pub spdx: Option<&'a str>,
    /// In major units as a person writes it ("9.50"); or see `price_minor`.
    pub price: Option<&'a str>,
    /// In minor units, for API clients that send integers; wins over `price`.
    pub price_minor: Option<i64>,
    pub currency: Option<&'a str>,
    pub seat: Option<&'a str>,
    pub covers: Option<&'a str>,
    pub interval: Option<&'a str>,
    pub approval: Option<&'a str>,
    pub terms: &'a str,
}

/// A form field that was filled in, trimmed.
fn present(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// Checks an offer, naming the field that is wrong. `semver_listing` says whether every
/// version of the listing is SemVer (needed to sell "every version up to the next major").
pub fn check(input: &OfferInput<'_>, semver_listing: bool) -> DomainResult<OfferTerms> {
    let kind = LicenseKind::parse(input.kind.trim()).ok_or_else(|| {
        DomainError::invalid(
            "kind",
            "choose open, gated, paid (one-time) or subscription",
        )
    })?;
    if input.terms.chars().count() > MAX_TERMS_CHARS {
        return Err(DomainError::invalid(
            "terms",
            format!("the terms may be at most {MAX_TERMS_CHARS} characters"),
        ));
    }
    let price = || -> DomainResult<Price> {
        let currency = present(input.currency).unwrap_or("usd");
        let currency = Currency::parse(currency).ok_or_else(|| {
            DomainError::invalid(
                "currency",
                format!(
                    "'{currency}' is not a currency prices can be set in; use one of {}",
                    CURRENCIES
                        .iter()
                        .map(|c| c.code.to_ascii_uppercase())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?;
        let amount_minor = match (input.price_minor, present(input.price)) {
            (Some(minor), _) => minor,
            (None, Some(raw)) => currency
                .parse_amount(raw)
                .map_err(|message| DomainError::invalid("price", message))?,
            (None, None) => return Err(DomainError::invalid("price", "a price is required")),
        };
        if !(MIN_PRICE_MINOR..=MAX_PRICE_MINOR).contains(&amount_minor) {
            return Err(DomainError::invalid(
                "price",
                format!(
                    "the price must be between {} and {}",
                    currency.format(MIN_PRICE_MINOR),
                    currency.format(MAX_PRICE_MINOR)
                ),
            ));
        }
        Ok(Price {
            amount_minor,
            currency,
        })
    };
    let seat = || -> DomainResult<Seat> {
        match present(input.seat) {
            None => Ok(Seat::Individual),
            Some(raw) => Seat::parse(raw)
                .ok_or_else(|| DomainError::invalid("seat", "choose individual or organization")),
        }
    };
    let free = |field: &'static str, value: Option<&str>| -> DomainResult<()> {
        match present(value) {
            Some(_) => Err(DomainError::invalid(
                field,
                format!("{} licenses have no {field}", kind.as_str()),
            )),
            None => Ok(()),
        }
    };
    Ok(match kind {
        LicenseKind::Open => {
            free("price", input.price)?;
            if input.price_minor.is_some_and(|p| p != 0) {
                return Err(DomainError::invalid("price", "open licenses are free"));
            }
            let raw = present(input.spdx)
                .ok_or_else(|| DomainError::invalid("spdx", "choose an open license"))?;
            let (spdx, _) = open_license(raw).ok_or_else(|| {
                DomainError::invalid(
                    "spdx",
                    format!("'{raw}' is not one of the open licenses Bazaar offers"),
                )
            })?;
            OfferTerms::Open { spdx }
        }
        LicenseKind::Gated => {
            free("price", input.price)?;
            if input.terms.trim().is_empty() {
                return Err(DomainError::invalid(
                    "terms",
                    "a gated model needs the terms people accept before downloading",
                ));
            }
            let approval = match present(input.approval) {
                None => Approval::Manual,
                Some(raw) => Approval::parse(raw).ok_or_else(|| {
                    DomainError::invalid("approval", "choose instant or manual approval")
                })?,
            };
            OfferTerms::Gated { approval }
        }
        LicenseKind::Paid => {
            let covers = match present(input.covers) {
                None => Covers::Published,
                Some(raw) => Covers::parse(raw)
                    .ok_or_else(|| DomainError::invalid("covers", "choose published or major"))?,
            };
            if covers == Covers::UntilNextMajor && !semver_listing {
                return Err(DomainError::invalid(
                    "covers",
                    "\"every version up to the next major\" needs versions numbered in SemVer (like 1.2.0)",
                ));
            }
            OfferTerms::OneTime {
                price: price()?,
                seat: seat()?,
                covers,
            }
        }
        LicenseKind::Subscription => {
            let interval = match present(input.interval) {
                None => BillingInterval::Month,
                Some(raw) => BillingInterval::parse(raw)
                    .ok_or_else(|| DomainError::invalid("interval", "choose month or year"))?,
            };
            OfferTerms::Subscription {
                price: price()?,
                seat: seat()?,
                interval,
            }
        }
    })
}

/// The SHA-256 of the terms text (hex): what an acceptance or a license records.
pub fn terms_sha256(terms: &str) -> String {
    hex::encode(Sha256::digest(terms.as_bytes()))
}

/// Whether every version of the model is numbered in SemVer.
pub async fn is_semver_listing(db: &impl ConnectionTrait, model_id: i64) -> DomainResult<bool> {
    let versions = model_version::Entity::find()
        .filter(model_version::Column::ModelId.eq(model_id))
        .all(db)
        .await?;
    Ok(versions
        .iter()
        .all(|v| semver::Version::parse(&v.version).is_ok()))
}

/// Whether an active offer of the listing covers "every version up to the next major": its
/// versions must then stay SemVer, or nobody could tell what a license covers.
pub async fn sells_until_next_major(
    db: &impl ConnectionTrait,
    model_id: i64,
) -> DomainResult<bool> {
    Ok(crate::catalog::active_offers(db, vec![model_id])
        .await?
        .iter()
        .any(|o| o.covers.as_deref() == Some(Covers::UntilNextMajor.as_str())))
}

/// Adds an active offer to a listing.
pub async fn add(
    db: &impl ConnectionTrait,
    model_id: i64,
    terms: &OfferTerms,
    terms_text: &str,
) -> DomainResult<license_offer::Model> {
    let price = terms.price();
    let row = license_offer::ActiveModel {
        model_id: Set(model_id),
        kind: Set(terms.kind().as_str().to_owned()),
        spdx: Set(match terms {
            OfferTerms::Open { spdx } => Some((*spdx).to_owned()),
            _ => None,
        }),
        price_cents: Set(price.map_or(0, |p| p.amount_minor)),
        currency: Set(price.map_or("usd", |p| p.currency.code).to_owned()),
        terms: Set(terms_text.trim().to_owned()),
        is_active: Set(true),
        seat: Set(terms.seat().as_str().to_owned()),
        covers: Set(match terms {
            OfferTerms::OneTime { covers, .. } => Some(covers.as_str().to_owned()),
            _ => None,
        }),
        billing_interval: Set(match terms {
            OfferTerms::Subscription { interval, .. } => Some(interval.as_str().to_owned()),
            _ => None,
        }),
        approval: Set(match terms {
            OfferTerms::Gated { approval } => Some(approval.as_str().to_owned()),
            _ => None,
        }),
        created_at: Set(Utc::now()),
        ..Default::default()
    };
    Ok(row.insert(db).await?)
}

/// Withdraws an offer: nobody can take it up any more, and licenses already granted under
/// it stay exactly as they were (they refer to the row, which is kept).
pub async fn withdraw(db: &impl ConnectionTrait, model_id: i64, offer_id: i64) -> DomainResult<()> {
    let result = license_offer::Entity::update_many()
        .col_expr(license_offer::Column::IsActive, false.into())
        .filter(license_offer::Column::Id.eq(offer_id))
        .filter(license_offer::Column::ModelId.eq(model_id))
        .filter(license_offer::Column::IsActive.eq(true))
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        return Err(DomainError::NotFound("offer"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(kind: &'a str) -> OfferInput<'a> {
        OfferInput {
            kind,
            ..Default::default()
        }
    }

    fn field_of(err: DomainError) -> &'static str {
        match err {
            DomainError::Invalid { field, .. } => field,
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn prices_are_parsed_in_minor_units_without_floats() {
        let usd = Currency::parse("USD").unwrap();
        assert_eq!(usd.parse_amount("9"), Ok(900));
        assert_eq!(usd.parse_amount("9.5"), Ok(950));
        assert_eq!(usd.parse_amount("1,200.05"), Ok(120_005));
        assert_eq!(usd.parse_amount("0.29"), Ok(29));
        for bad in ["", "9.", ".5", "9.999", "-1", "1e3", "nine", "9.5.1"] {
            assert!(usd.parse_amount(bad).is_err(), "{bad}");
        }
        let jpy = Currency::parse("jpy").unwrap();
        assert_eq!(jpy.parse_amount("1200"), Ok(1200));
        assert!(jpy
            .parse_amount("12.5")
            .unwrap_err()
            .contains("whole number"));
        assert_eq!(jpy.format(1200), "1,200 JPY");
        assert_eq!(usd.format(120_005), "1,200.05 USD");
        assert_eq!(usd.format(5), "0.05 USD");
    }

    #[test]
    fn each_kind_takes_exactly_its_fields() {
        let open = check(
            &OfferInput {
                spdx: Some("apache-2.0"),
                ..input("open")
            },
            false,
        );
        assert_eq!(open.unwrap(), OfferTerms::Open { spdx: "Apache-2.0" });
        let priced_open = OfferInput {
            spdx: Some("MIT"),
            price: Some("9"),
            ..input("open")
        };
        assert_eq!(field_of(check(&priced_open, false).unwrap_err()), "price");
        assert_eq!(field_of(check(&input("open"), false).unwrap_err()), "spdx");
        let unknown = OfferInput {
            spdx: Some("WTFPL-9"),
            ..input("open")
        };
        assert_eq!(field_of(check(&unknown, false).unwrap_err()), "spdx");

        assert_eq!(
            field_of(check(&input("gated"), false).unwrap_err()),
            "terms"
        );
        let gated = OfferInput {
            terms: "Research only.",
            ..input("gated")
        };
        assert_eq!(
            check(&gated, false).unwrap(),
            OfferTerms::Gated {
                approval: Approval::Manual
            }
        );

        assert_eq!(field_of(check(&input("paid"), false).unwrap_err()), "price");
        let paid = OfferInput {
            price: Some("9"),
            currency: Some("EUR"),
            ..input("paid")
        };
        let terms = check(&paid, false).unwrap();
        assert_eq!(terms.price().unwrap().in_words(), "9.00 EUR");
        let cheap = OfferInput {
            price: Some("0.10"),
            ..input("paid")
        };
        assert_eq!(field_of(check(&cheap, false).unwrap_err()), "price");
        let odd = OfferInput {
            price: Some("9"),
            currency: Some("xyz"),
            ..input("paid")
        };
        assert_eq!(field_of(check(&odd, false).unwrap_err()), "currency");

        let major = OfferInput {
            price: Some("9"),
            covers: Some("major"),
            ..input("paid")
        };
        assert_eq!(field_of(check(&major, false).unwrap_err()), "covers");
        assert!(check(&major, true).is_ok());

        let yearly = OfferInput {
            price: Some("90"),
            interval: Some("year"),
            seat: Some("organization"),
            ..input("subscription")
        };
        assert_eq!(
            check(&yearly, false).unwrap().in_words(),
            "90.00 USD a year, for an organization"
        );
        let weekly = OfferInput {
            price: Some("9"),
            interval: Some("week"),
            ..input("subscription")
        };
        assert_eq!(field_of(check(&weekly, false).unwrap_err()), "interval");
        assert_eq!(field_of(check(&input("lease"), false).unwrap_err()), "kind");
    }
}
