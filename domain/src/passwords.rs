//! Passwords, to OWASP ASVS 5.0 level 2: at least 8 characters, long passphrases welcome and
//! never truncated, no composition rules, the most common passwords refused; stored as argon2id
//! PHC strings at or above OWASP's floor, re-hashed at log-in when the parameters change.
//! Hashing is deliberately slow, so it runs off the async runtime with bounded concurrency.
use std::collections::HashSet;
use std::sync::{Arc, LazyLock};

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::error::{DomainError, DomainResult};

pub const MIN_LENGTH: usize = 8;
/// Generous for passphrases; bounded so nobody can make the server hash megabytes.
pub const MAX_LENGTH: usize = 256;

/// OWASP's argon2id floor: 19 MiB of memory, 2 passes, 1 lane.
const MEMORY_KIB: u32 = 19_456;
const PASSES: u32 = 2;
const LANES: u32 = 1;

static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("../data/common-passwords.txt")
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .collect()
});

/// The rules a new password must meet; each refusal names the field and says why.
pub fn check_new_password(password: &str, username: &str) -> DomainResult<()> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(DomainError::invalid(
            "password",
            format!("must be at least {MIN_LENGTH} characters"),
        ));
    }
    if length > MAX_LENGTH {
        return Err(DomainError::invalid(
            "password",
            format!("must be at most {MAX_LENGTH} characters"),
        ));
    }
    if COMMON_PASSWORDS.contains(password.to_lowercase().as_str()) {
        return Err(DomainError::invalid(
            "password",
            "is one of the most commonly used passwords; please choose another",
        ));
    }
    if password.eq_ignore_ascii_case(username) {
        return Err(DomainError::invalid(
            "password",
            "must not be your username",
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// The password is right; `needs_rehash` when the stored hash uses older parameters.
    Match {
        needs_rehash: bool,
    },
    Mismatch,
}

#[derive(Clone)]
pub struct PasswordHasher {
    argon2: Argon2<'static>,
    permits: Arc<Semaphore>,
}

impl PasswordHasher {
    /// At most `max_concurrent` hashes run at once (each takes ~19 MiB and a core).
    pub fn new(max_concurrent: usize) -> Self {
        let params =
            Params::new(MEMORY_KIB, PASSES, LANES, None).expect("OWASP parameters are valid");
        Self {
            argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
        }
    }

    pub async fn hash(&self, password: String) -> DomainResult<String> {
        let argon2 = self.argon2.clone();
        self.off_runtime(move || {
            argon2
                .hash_password(password.as_bytes())
                .map(|h| h.to_string())
        })
        .await?
        .map_err(|e| DomainError::Internal(format!("hashing a password: {e}")))
    }

    pub async fn verify(&self, password: String, stored: String) -> DomainResult<Verification> {
        let argon2 = self.argon2.clone();
        let current = argon2.params().clone();
        self.off_runtime(move || {
            let Ok(hash) = PasswordHash::new(&stored) else {
                return Verification::Mismatch;
            };
            if argon2.verify_password(password.as_bytes(), &hash).is_err() {
                return Verification::Mismatch;
            }
            let needs_rehash = hash.algorithm.as_str() != "argon2id"
                || Params::try_from(&hash).map_or(true, |p| {
                    p.m_cost() < current.m_cost()
                        || p.t_cost() < current.t_cost()
                        || p.p_cost() != current.p_cost()
                });
            Verification::Match { needs_rehash }
        })
        .await
    }

    async fn off_runtime<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> DomainResult<T> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| DomainError::Internal("password hasher closed".into()))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| DomainError::Internal(format!("password hashing task failed: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_common_list_is_large_and_loaded() {
        assert!(
            COMMON_PASSWORDS.len() >= 10_000,
            "{}",
            COMMON_PASSWORDS.len()
        );
    }

    #[test]
    fn policy_refusals_name_the_field_and_reason() {
        let reason = |pw: &str| check_new_password(pw, "alice").unwrap_err().to_string();
        assert!(reason("short12").contains("at least 8"));
        assert!(reason(&"x".repeat(257)).contains("at most 256"));
        assert!(reason("Password1").contains("commonly used"));
        assert!(reason("qwertyuiop").contains("commonly used"));
        assert!(check_new_password("ALICEALICE", "alicealice").is_err());
        assert!(reason("short12").starts_with("password:"));
    }

    #[test]
    fn long_and_unicode_passphrases_are_accepted_without_composition_rules() {
        assert!(check_new_password("correct horse battery staple", "alice").is_ok());
        assert!(
            check_new_password(&"ü".repeat(8), "alice").is_ok(),
            "length counts characters"
        );
        assert!(check_new_password(&"a".repeat(256), "alice").is_ok());
        assert!(
            check_new_password("abcdefgz", "alice").is_ok(),
            "no digits or symbols required"
        );
    }

    #[tokio::test]
    async fn hashes_are_argon2id_at_the_owasp_floor_and_verify() {
        let hasher = PasswordHasher::new(2);
        let hash = hasher.hash("correct horse battery".into()).await.unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        let ok = hasher
            .verify("correct horse battery".into(), hash.clone())
            .await
            .unwrap();
        assert_eq!(
            ok,
            Verification::Match {
                needs_rehash: false
            }
        );
        let wrong = hasher
            .verify("correct horse batterY".into(), hash.clone())
            .await
            .unwrap();
        assert_eq!(wrong, Verification::Mismatch);
        assert_eq!(
            hasher
                .verify("x".into(), "not a hash".into())
                .await
                .unwrap(),
            Verification::Mismatch
        );
    }

    #[tokio::test]
    async fn long_passwords_are_not_truncated() {
        let hasher = PasswordHasher::new(1);
        let base = "p".repeat(200);
        let hash = hasher.hash(format!("{base}A")).await.unwrap();
        let other = hasher.verify(format!("{base}B"), hash).await.unwrap();
        assert_eq!(other, Verification::Mismatch);
    }

    #[tokio::test]
    async fn weaker_stored_parameters_ask_for_a_rehash() {
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(4096, 1, 1, None).unwrap(),
        );
        let stored = weak.hash_password(b"an old password").unwrap().to_string();
        let verdict = PasswordHasher::new(1)
            .verify("an old password".into(), stored)
            .await
            .unwrap();
        assert_eq!(verdict, Verification::Match { needs_rehash: true });
    }
}
