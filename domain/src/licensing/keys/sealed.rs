//! Signing keys at rest: AES-256-GCM under a key derived (HKDF-SHA256) from the operator's
//! secret, a random nonce per seal stored in front of the ciphertext, and the key id as
//! associated data, so a sealed key copied into another row does not open.
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::hkdf::{Salt, HKDF_SHA256};
use ring::rand::{SecureRandom, SystemRandom};

use super::SigningKeyError;

/// The key that encrypts signing keys in the database, derived from a secret the operator
/// keeps outside it.
#[derive(Clone)]
pub struct EncryptionSecret {
    key: LessSafeKey,
}

impl EncryptionSecret {
    /// Shorter secrets are refused: they could be guessed from a copy of the database.
    pub const MIN_LEN: usize = 16;

    pub fn new(secret: &str) -> Result<Self, SigningKeyError> {
        if secret.len() < Self::MIN_LEN {
            return Err(SigningKeyError::SecretTooShort);
        }
        let prk = Salt::new(HKDF_SHA256, b"bazaar license signing keys").extract(secret.as_bytes());
        let okm = prk
            .expand(&[b"aes-256-gcm v1"], &AES_256_GCM)
            .map_err(|_| SigningKeyError::Crypto("deriving the encryption key"))?;
        Ok(Self {
            key: LessSafeKey::new(UnboundKey::from(okm)),
        })
    }

    /// `nonce || ciphertext || tag`.
    pub(super) fn seal(&self, kid: &str, plaintext: &[u8]) -> Result<Vec<u8>, SigningKeyError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| SigningKeyError::Crypto("no randomness for a nonce"))?;
        let mut sealed = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(kid.as_bytes()),
                &mut sealed,
            )
            .map_err(|_| SigningKeyError::Crypto("encrypting a signing key"))?;
        sealed.splice(0..0, nonce);
        Ok(sealed)
    }

    /// The plaintext, or `None` when this secret did not seal it (or it was altered).
    pub(super) fn open(&self, kid: &str, sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut plaintext = ciphertext.to_vec();
        let len = self
            .key
            .open_in_place(nonce, Aad::from(kid.as_bytes()), &mut plaintext)
            .ok()?
            .len();
        plaintext.truncate(len);
        Some(plaintext)
    }
}

impl std::fmt::Debug for EncryptionSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EncryptionSecret([redacted])")
    }
}
