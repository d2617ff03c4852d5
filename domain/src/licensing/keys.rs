//! License keys: a license's terms signed with the marketplace's Ed25519 key, so that anyone
//! holding the published key set can check one offline.
//!
//! A key reads `bzr1.<payload>.<signature>`: the payload is the [`LicenseClaims`] as JSON and
//! the signature is Ed25519 over the ASCII bytes `bzr1.<payload>`, both base64url without
//! padding. The signing key's id (`kid`) is inside the signed payload, so it cannot be swapped.
//! The key set is a JWK Set (RFC 7517, Ed25519 keys as RFC 8037's `OKP`), which JOSE libraries
//! read as they are.
mod sealed;
mod signing;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};
use serde::{Deserialize, Serialize};

pub use sealed::EncryptionSecret;
pub use signing::{published, SigningKeyError, SigningKeys};

/// The first part of every key: the format and its version.
pub const PREFIX: &str = "bzr1";

/// What a verified key says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseClaims {
    /// The id of the key that signed it, one of the published set's.
    pub kid: String,
    #[serde(flatten)]
    pub grant: LicenseGrant,
}

/// What a license grants, and to whom.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseGrant {
    pub license_id: i64,
    pub licensee: Licensee,
    pub model: LicensedModel,
    pub offer: LicensedOffer,
    pub versions: VersionsCovered,
    /// Unix seconds.
    pub issued_at: i64,
    /// Unix seconds; `None` (JSON `null`) for a perpetual license. A subscription's license
    /// ends with its paid period and gets a new key when it renews.
    pub expires_at: Option<i64>,
}

/// The account holding the license.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Licensee {
    pub id: i64,
    /// The account's username (or organization name).
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicensedModel {
    pub id: i64,
    /// `owner/slug`, as the model was named when the key was issued (the id survives renames).
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicensedOffer {
    pub id: i64,
    /// A [`crate::catalog::LicenseKind`] name: `open`, `gated`, `paid` or `subscription`.
    pub kind: String,
}

/// Which of the model's versions the license covers: in JSON the string `"*"` for every
/// version, present and future, or a list of version names (`["1.0.0", "1.1.0"]`). Names, not
/// SemVer ranges, because a version may be named anything the version rule allows
/// (`v2-rc1`), and so a verifier needs no SemVer library.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "VersionsJson", into = "VersionsJson")]
pub enum VersionsCovered {
    All,
    Only(Vec<String>),
}

impl VersionsCovered {
    pub fn covers(&self, version: &str) -> bool {
        match self {
            Self::All => true,
            Self::Only(names) => names.iter().any(|name| name == version),
        }
    }
}

impl std::fmt::Display for VersionsCovered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::All => f.write_str("every version"),
            Self::Only(names) => f.write_str(&names.join(", ")),
        }
    }
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(untagged)]
enum VersionsJson {
    Every(String),
    Listed(Vec<String>),
}

impl TryFrom<VersionsJson> for VersionsCovered {
    type Error = &'static str;

    fn try_from(json: VersionsJson) -> Result<Self, Self::Error> {
        match json {
            VersionsJson::Every(star) if star == "*" => Ok(Self::All),
            VersionsJson::Every(_) => Err("versions is \"*\" or a list of version names"),
            VersionsJson::Listed(names) => Ok(Self::Only(names)),
        }
    }
}

impl From<VersionsCovered> for VersionsJson {
    fn from(versions: VersionsCovered) -> Self {
        match versions {
            VersionsCovered::All => Self::Every("*".to_owned()),
            VersionsCovered::Only(names) => Self::Listed(names),
        }
    }
}

/// Why a key was refused. The messages are for the person holding the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("not a Bazaar license key: {0}")]
    Malformed(&'static str),
    #[error(
        "signed by another key: key id {kid} is not among the marketplace's published keys \
         (a key of another marketplace, or a key set fetched before the key was made)"
    )]
    UnknownKey { kid: String },
    #[error("the license key has been altered: its signature does not match its contents")]
    Altered,
    #[error("the license expired on {}", date_in_words(*expires_at))]
    Expired { expires_at: i64 },
}

/// Checks `key`'s signature against `public_keys` and its expiry against `now`; the claims
/// when both hold.
pub fn verify(
    key: &str,
    public_keys: &KeySet,
    now: DateTime<Utc>,
) -> Result<LicenseClaims, VerifyError> {
    let Parts {
        signed,
        payload,
        signature,
    } = split(key)?;
    let claims = serde_json::from_slice::<LicenseClaims>(&payload);
    // Every key of the set is tried (sets are small), so that a genuine key whose claims
    // this version cannot read is told apart from an altered one.
    let signer = public_keys
        .ed25519()
        .find(|(_, public)| public.verify(signed, &signature).is_ok());
    let claims = match (signer, claims) {
        (Some((kid, _)), Ok(claims)) if claims.kid == kid => claims,
        (Some(_), Ok(_)) => {
            return Err(VerifyError::Malformed(
                "its key id is not that of the key that signed it",
            ))
        }
        (Some(_), Err(_)) => {
            return Err(VerifyError::Malformed(
                "its signature is good but its claims are not ones this version reads",
            ))
        }
        (None, Ok(claims)) if !public_keys.has(&claims.kid) => {
            return Err(VerifyError::UnknownKey { kid: claims.kid })
        }
        (None, _) => return Err(VerifyError::Altered),
    };
    match claims.grant.expires_at {
        Some(expires_at) if now.timestamp() >= expires_at => {
            Err(VerifyError::Expired { expires_at })
        }
        _ => Ok(claims),
    }
}

/// Whether `key` is shaped as a license key at all, which needs no public key to tell.
pub fn check_shape(key: &str) -> Result<(), VerifyError> {
    split(key).map(drop)
}

struct Parts<'a> {
    /// `bzr1.<payload>`, as signed.
    signed: &'a [u8],
    payload: Vec<u8>,
    signature: Vec<u8>,
}

fn split(key: &str) -> Result<Parts<'_>, VerifyError> {
    let key = key.trim();
    let mut parts = key.split('.');
    if parts.next() != Some(PREFIX) {
        return Err(VerifyError::Malformed("it does not start with bzr1."));
    }
    let (Some(payload_b64), Some(signature), None) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(VerifyError::Malformed(
            "it is not three parts joined by dots (bzr1.<claims>.<signature>)",
        ));
    };
    let (Ok(payload), Ok(signature)) = (
        URL_SAFE_NO_PAD.decode(payload_b64),
        URL_SAFE_NO_PAD.decode(signature),
    ) else {
        return Err(VerifyError::Malformed("its parts are not base64url"));
    };
    Ok(Parts {
        signed: &key.as_bytes()[..PREFIX.len() + 1 + payload_b64.len()],
        payload,
        signature,
    })
}

/// Signs the claims into a key; [`SigningKeys::issue`] fills in which key.
fn sign(claims: &LicenseClaims, pair: &Ed25519KeyPair) -> String {
    // Strings and integers only: serialising cannot fail.
    let json = serde_json::to_vec(claims).expect("license claims serialise");
    let signed = format!("{PREFIX}.{}", URL_SAFE_NO_PAD.encode(json));
    let signature = pair.sign(signed.as_bytes());
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
}

/// A Unix time as people read it: `14 March 2025, 09:30 UTC`.
pub fn date_in_words(unix_seconds: i64) -> String {
    match DateTime::from_timestamp(unix_seconds, 0) {
        Some(at) => at.format("%-d %B %Y, %H:%M UTC").to_string(),
        None => format!("{unix_seconds} (Unix time)"),
    }
}

/// The public keys licenses verify against, as served at `/.well-known/bazaar-license-key`:
/// a JWK Set, newest key first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySet {
    pub keys: Vec<Jwk>,
}

/// One key of a JWK Set. Members a set may carry for other kinds of key are read as empty
/// and such keys are skipped, so a set with other keys in it still works.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    #[serde(default)]
    pub crv: String,
    /// The public key, base64url.
    #[serde(default)]
    pub x: String,
    #[serde(default)]
    pub kid: String,
    #[serde(default, rename = "use")]
    pub use_: String,
    #[serde(default)]
    pub alg: String,
}

impl Jwk {
    pub fn ed25519(public_key: &[u8]) -> Self {
        Self {
            kty: "OKP".to_owned(),
            crv: "Ed25519".to_owned(),
            x: URL_SAFE_NO_PAD.encode(public_key),
            kid: kid_of(public_key),
            use_: "sig".to_owned(),
            alg: "EdDSA".to_owned(),
        }
    }
}

impl KeySet {
    /// The set's Ed25519 signing keys with their ids.
    fn ed25519(&self) -> impl Iterator<Item = (&str, UnparsedPublicKey<Vec<u8>>)> {
        self.keys
            .iter()
            .filter(|k| k.kty == "OKP" && k.crv == "Ed25519" && matches!(&*k.use_, "" | "sig"))
            .filter_map(|k| {
                let x = URL_SAFE_NO_PAD.decode(&k.x).ok()?;
                (x.len() == 32).then(|| (k.kid.as_str(), UnparsedPublicKey::new(&ED25519, x)))
            })
    }

    /// Whether the set holds an Ed25519 key with this id.
    pub fn has(&self, kid: &str) -> bool {
        self.ed25519().any(|(id, _)| id == kid)
    }

    /// Whether the set holds any key a license could be verified with.
    pub fn is_usable(&self) -> bool {
        self.ed25519().next().is_some()
    }
}

/// A key's id: its RFC 7638 thumbprint (SHA-256 of the canonical JWK, base64url) cut to 16
/// characters, so the same key always has the same id, and ids are short.
pub fn kid_of(public_key: &[u8]) -> String {
    let canonical = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(public_key)
    );
    let digest = ring::digest::digest(&ring::digest::SHA256, canonical.as_bytes());
    let mut kid = URL_SAFE_NO_PAD.encode(digest.as_ref());
    kid.truncate(16);
    kid
}

/// The public half of `pair`, as the key set lists it.
fn jwk_of(pair: &Ed25519KeyPair) -> Jwk {
    Jwk::ed25519(pair.public_key().as_ref())
}

#[cfg(test)]
mod tests;
