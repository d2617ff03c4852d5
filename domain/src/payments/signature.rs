//! The `Stripe-Signature` header: HMAC-SHA256 of `{timestamp}.{raw body}` under the endpoint's
//! signing secret, sent as `t=<unix seconds>,v1=<hex>[,v1=<hex>…]` (several `v1` while a secret
//! is being rolled). Checked on the raw bytes, before anything is parsed.
use ring::hmac;

/// How far a signature's timestamp may be from now, as Stripe's own libraries allow.
pub const TOLERANCE_SECONDS: i64 = 300;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is missing")]
    Missing,
    #[error("the Stripe-Signature header has no timestamp (t=) or no v1 signature")]
    Malformed,
    #[error("the signature's timestamp is more than {TOLERANCE_SECONDS} seconds from now")]
    Stale,
    #[error("no v1 signature matches the body")]
    Mismatch,
}

/// The header Stripe would send with `body` at `timestamp`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac(&key, timestamp, body).as_ref())
    )
}

/// Accepts `header` for `body` when its timestamp is within the tolerance of `now` and any of
/// its `v1` signatures matches (compared in constant time).
pub fn verify(
    secret: &str,
    header: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => signatures.extend(hex::decode(value).ok()),
            _ => {} // other schemes (v0 test signatures) are ignored, as Stripe's libraries do
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if (now - timestamp).abs() > TOLERANCE_SECONDS {
        return Err(SignatureError::Stale);
    }
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let signed = signed_payload(timestamp, body);
    signatures
        .iter()
        .any(|signature| hmac::verify(&key, &signed, signature).is_ok())
        .then_some(())
        .ok_or(SignatureError::Mismatch)
}

fn mac(key: &hmac::Key, timestamp: i64, body: &[u8]) -> hmac::Tag {
    hmac::sign(key, &signed_payload(timestamp, body))
}

fn signed_payload(timestamp: i64, body: &[u8]) -> Vec<u8> {
    let mut signed = format!("{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    signed
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test";
    const BODY: &[u8] = br#"{"id":"evt_1"}"#;

    #[test]
    fn a_signature_verifies_on_the_same_body_only() {
        let header = sign(SECRET, 1_000, BODY);
        assert_eq!(verify(SECRET, Some(&header), BODY, 1_000), Ok(()));
        assert_eq!(
            verify(SECRET, Some(&header), br#"{"id":"evt_2"}"#, 1_000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("whsec_other", Some(&header), BODY, 1_000),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn any_v1_may_match_and_other_schemes_are_ignored() {
        let good = sign(SECRET, 1_000, BODY);
        let v1 = good.split_once(",v1=").unwrap().1;
        let header = format!("t=1000,v0=abcd,v1={},v1={v1}", "00".repeat(32));
        assert_eq!(verify(SECRET, Some(&header), BODY, 1_000), Ok(()));
    }

    #[test]
    fn old_future_missing_and_malformed_headers_are_refused() {
        let header = sign(SECRET, 1_000, BODY);
        assert_eq!(
            verify(SECRET, Some(&header), BODY, 1_301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(SECRET, Some(&header), BODY, 699),
            Err(SignatureError::Stale)
        );
        assert_eq!(verify(SECRET, Some(&header), BODY, 1_300), Ok(()));
        assert_eq!(
            verify(SECRET, None, BODY, 1_000),
            Err(SignatureError::Missing)
        );
        for bad in ["", "t=1000", "v1=00", "t=x,v1=00", "t=1000,v1=zz"] {
            assert_eq!(
                verify(SECRET, Some(bad), BODY, 1_000),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
    }
}
