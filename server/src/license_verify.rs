//! `bazaar license verify`: checks a license key against the marketplace's public keys (a saved
//! key set, or the one a server serves), with no database.
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use domain::licensing::keys::{self, date_in_words, KeySet, LicenseClaims};

/// Where a server on its default address serves its public keys.
pub const DEFAULT_KEY_SET: &str = "http://127.0.0.1:3000/.well-known/bazaar-license-key";

/// The claims of `key` in words when it verifies against the key set at `public_keys` (a file
/// or an http(s) URL); the reason it was refused otherwise.
pub async fn run(key: &str, public_keys: &str, now: DateTime<Utc>) -> anyhow::Result<String> {
    let refused = |e| anyhow::anyhow!("license key refused: {e}");
    // Before fetching anything: what is not a key at all is refused however the keys fare.
    keys::check_shape(key).map_err(refused)?;
    let set = key_set(public_keys).await?;
    let claims = keys::verify(key, &set, now).map_err(refused)?;
    Ok(describe(&claims))
}

async fn key_set(source: &str) -> anyhow::Result<KeySet> {
    let json = if source.starts_with("http://") || source.starts_with("https://") {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?;
        client
            .get(source)
            .send()
            .await
            .and_then(|response| response.error_for_status())
            .with_context(|| format!("fetching the public keys from {source}"))?
            .text()
            .await
            .with_context(|| format!("reading the public keys from {source}"))?
    } else {
        std::fs::read_to_string(source)
            .with_context(|| format!("reading the public keys from {source}"))?
    };
    let set: KeySet = serde_json::from_str(&json)
        .with_context(|| format!("{source} is not a JWK key set ({{\"keys\": [...]}})"))?;
    anyhow::ensure!(set.is_usable(), "{source} holds no Ed25519 public key");
    Ok(set)
}

fn describe(claims: &LicenseClaims) -> String {
    let grant = &claims.grant;
    let expires = match grant.expires_at {
        Some(at) => date_in_words(at),
        None => "never (perpetual)".to_owned(),
    };
    format!(
        "valid license key, signed by key {kid}\n\
         license:  {license}\n\
         licensee: {licensee} (account {licensee_id})\n\
         model:    {model} (model {model_id})\n\
         offer:    {offer_kind} (offer {offer_id})\n\
         versions: {versions}\n\
         issued:   {issued}\n\
         expires:  {expires}",
        kid = claims.kid,
        license = grant.license_id,
        licensee = grant.licensee.name,
        licensee_id = grant.licensee.id,
        model = grant.model.name,
        model_id = grant.model.id,
        offer_kind = grant.offer.kind,
        offer_id = grant.offer.id,
        versions = grant.versions,
        issued = date_in_words(grant.issued_at),
    )
}
