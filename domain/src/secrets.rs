//! Random secrets handed to a client once, and the hash under which the server keeps them.
use sha2::{Digest, Sha256};

use crate::error::{DomainError, DomainResult};

/// 256 random bits as hex, behind `prefix` (which lets a leaked secret be recognised).
pub fn new_secret(prefix: &str) -> DomainResult<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| DomainError::Internal(format!("no randomness: {e}")))?;
    Ok(format!("{prefix}{}", hex::encode(bytes)))
}

/// SHA-256 (hex): the secrets are random and long, so a fast hash is enough and lookups
/// by hash stay indexable.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}
