use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
use ring::signature::{UnparsedPublicKey, ED25519};
use serde_json::Value;

/// The claims of a genuine, unexpired license key. `key_set` is the JSON served at
/// /.well-known/bazaar-license-key; `now` is Unix seconds.
pub fn verify_license(
    key: &str,
    key_set: &Value,
    now: i64,
) -> Result<Value, Box<dyn std::error::Error>> {
    let (signed, signature) = key
        .trim()
        .rsplit_once('.')
        .ok_or("not a Bazaar license key")?;
    let payload = signed
        .strip_prefix("bzr1.")
        .ok_or("not a Bazaar license key")?;
    let claims: Value = serde_json::from_slice(&B64.decode(payload)?)?;
    let jwk = key_set["keys"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|k| k["kid"] == claims["kid"])
        .ok_or("signed by another key")?;
    let x = B64.decode(jwk["x"].as_str().unwrap_or(""))?;
    UnparsedPublicKey::new(&ED25519, x)
        .verify(signed.as_bytes(), &B64.decode(signature)?)
        .map_err(|_| "the license key has been altered")?;
    if claims["expires_at"].as_i64().is_some_and(|end| now >= end) {
        return Err("the license has expired".into());
    }
    Ok(claims) // claims["model"]["name"], claims["versions"] ("*" or a list), …
}
