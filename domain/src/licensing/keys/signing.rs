//! The marketplace's signing keys, kept in the database so that every instance signs with the
//! same key: made by the first instance to start, replaced by [`SigningKeys::rotate`]. Retired
//! keys stay published, so the licenses they signed still verify.
use std::sync::{Arc, RwLock};

use chrono::Utc;
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};
use sea_orm::sea_query::{Expr, Value};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr,
    EntityTrait, QueryFilter, QueryOrder, SqlErr, TransactionTrait,
};

use super::{jwk_of, kid_of, sign, EncryptionSecret, Jwk, KeySet, LicenseClaims, LicenseGrant};
use crate::entities::license_signing_key::{self, Column, Entity, PrivateKey};

const ALGORITHM: &str = "Ed25519";

/// Why the signing keys could not be loaded or made. No variant carries key material.
#[derive(Debug, thiserror::Error)]
pub enum SigningKeyError {
    #[error(
        "license signing key {kid} is stored encrypted, and no license key secret is set \
         to decrypt it"
    )]
    SecretMissing { kid: String },
    #[error(
        "the license key secret does not decrypt license signing key {kid}: the key was \
         stored with another secret"
    )]
    WrongSecret { kid: String },
    #[error(
        "the license key secret must be at least {} characters long",
        EncryptionSecret::MIN_LEN
    )]
    SecretTooShort,
    #[error("license signing key {kid} is not a usable Ed25519 key")]
    Unusable { kid: String },
    #[error("cryptography failed: {0}")]
    Crypto(&'static str),
    #[error("database error: {0}")]
    Database(#[from] DbErr),
}

/// The key this marketplace signs licenses with, and the public keys they verify against.
pub struct SigningKeys {
    /// Kept to open the next key when another process rotates.
    secret: Option<EncryptionSecret>,
    current: RwLock<Arc<Current>>,
}

struct Current {
    /// 0 for a key never stored.
    generation: i64,
    kid: String,
    pair: Ed25519KeyPair,
    published: KeySet,
}

impl SigningKeys {
    /// A key of this process alone, never stored: what a state holds before start-up loads
    /// the stored keys, and another marketplace's key in tests.
    pub fn ephemeral() -> Result<Self, SigningKeyError> {
        let pkcs8 = generate()?;
        let pair = Ed25519KeyPair::from_pkcs8(&pkcs8)
            .map_err(|_| SigningKeyError::Crypto("reading a new key"))?;
        let jwk = jwk_of(&pair);
        Ok(Self {
            secret: None,
            current: RwLock::new(Arc::new(Current {
                generation: 0,
                kid: jwk.kid.clone(),
                pair,
                published: KeySet { keys: vec![jwk] },
            })),
        })
    }

    /// The stored keys, after making the first one when there is none. Several instances
    /// starting at once on an empty database end up with the same key. With a `secret`, a key
    /// stored unencrypted is encrypted now.
    pub async fn load_or_create(
        db: &DatabaseConnection,
        secret: Option<&EncryptionSecret>,
    ) -> Result<Self, SigningKeyError> {
        let mut rows = stored(db).await?;
        if rows.is_empty() {
            // Whoever inserts generation 1 first wins; the others read the winner's key.
            insert_new(db, 1, secret).await?;
            rows = stored(db).await?;
        }
        if let Some(secret) = secret {
            seal_plain_keys(db, &rows, secret).await?;
        }
        Ok(Self {
            secret: secret.cloned(),
            current: RwLock::new(Arc::new(current_of(&rows, secret)?)),
        })
    }

    /// Makes a new signing key and retires the others: their private halves are deleted and
    /// their public halves stay published. Reads no stored private key, so it also replaces a
    /// key whose secret was lost. Servers switch to the new key at their next refresh.
    pub async fn rotate(
        db: &DatabaseConnection,
        secret: Option<&EncryptionSecret>,
    ) -> Result<Self, SigningKeyError> {
        let newest = stored(db).await?.first().map_or(0, |row| row.generation);
        let txn = db.begin().await?;
        if insert_new(&txn, newest + 1, secret).await? {
            Entity::update_many()
                .col_expr(Column::RetiredAt, Expr::value(Utc::now()))
                .col_expr(Column::PrivateKey, Expr::value(Value::Bytes(None)))
                .filter(Column::Generation.lte(newest))
                .filter(Column::RetiredAt.is_null())
                .exec(&txn)
                .await?;
            txn.commit().await?;
        } else {
            // Another process rotated at the same moment: its key is the new one.
            txn.rollback().await?;
        }
        Self::load_or_create(db, secret).await
    }

    /// Switches to the newest stored key when another process has rotated; whether it did.
    pub async fn refresh(&self, db: &DatabaseConnection) -> Result<bool, SigningKeyError> {
        let rows = stored(db).await?;
        match rows.first() {
            Some(newest) if newest.generation != self.current().generation => {
                let current = current_of(&rows, self.secret.as_ref())?;
                *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(current);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// A license key for `grant`, signed with the current key.
    pub fn issue(&self, grant: &LicenseGrant) -> String {
        let current = self.current();
        let claims = LicenseClaims {
            kid: current.kid.clone(),
            grant: grant.clone(),
        };
        sign(&claims, &current.pair)
    }

    /// The id of the key that signs now.
    pub fn kid(&self) -> String {
        self.current().kid.clone()
    }

    /// The public keys as this process last loaded them (see [`published`] for the stored
    /// set, which other processes' rotations have reached already).
    pub fn key_set(&self) -> KeySet {
        self.current().published.clone()
    }

    fn current(&self) -> Arc<Current> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let current = self.current();
        let published: Vec<&str> = current.published.keys.iter().map(|k| &*k.kid).collect();
        f.debug_struct("SigningKeys")
            .field("kid", &current.kid)
            .field("published", &published)
            .field("encrypted_at_rest", &self.secret.is_some())
            .finish_non_exhaustive()
    }
}

/// Every stored public key, newest first: what `/.well-known/bazaar-license-key` serves, so
/// that each instance publishes a key as soon as any instance may sign with it.
pub async fn published(db: &impl ConnectionTrait) -> Result<KeySet, DbErr> {
    let rows = stored(db).await?;
    Ok(KeySet {
        keys: rows
            .iter()
            .map(|row| Jwk::ed25519(&row.public_key))
            .collect(),
    })
}

async fn stored(db: &impl ConnectionTrait) -> Result<Vec<license_signing_key::Model>, DbErr> {
    Entity::find()
        .order_by_desc(Column::Generation)
        .all(db)
        .await
}

/// The newest row's key, opened, with every row's public key.
fn current_of(
    rows: &[license_signing_key::Model],
    secret: Option<&EncryptionSecret>,
) -> Result<Current, SigningKeyError> {
    let Some(newest) = rows.first() else {
        return Err(DbErr::RecordNotFound("license_signing_keys is empty".into()).into());
    };
    let kid = newest.kid.clone();
    let pkcs8 = match (&newest.private_key, newest.private_key_encrypted, secret) {
        (None, _, _) => return Err(SigningKeyError::Unusable { kid }),
        (Some(PrivateKey(plain)), false, _) => plain.clone(),
        (Some(_), true, None) => return Err(SigningKeyError::SecretMissing { kid }),
        (Some(PrivateKey(sealed)), true, Some(secret)) => secret
            .open(&kid, sealed)
            .ok_or_else(|| SigningKeyError::WrongSecret { kid: kid.clone() })?,
    };
    let pair = Ed25519KeyPair::from_pkcs8(&pkcs8)
        .ok()
        .filter(|pair| kid_of(pair.public_key().as_ref()) == kid)
        .ok_or_else(|| SigningKeyError::Unusable { kid: kid.clone() })?;
    Ok(Current {
        generation: newest.generation,
        kid,
        pair,
        published: KeySet {
            keys: rows
                .iter()
                .map(|row| Jwk::ed25519(&row.public_key))
                .collect(),
        },
    })
}

/// Stores a new key as `generation`; false when another process stored that generation first.
async fn insert_new(
    db: &impl ConnectionTrait,
    generation: i64,
    secret: Option<&EncryptionSecret>,
) -> Result<bool, SigningKeyError> {
    let pkcs8 = generate()?;
    let pair = Ed25519KeyPair::from_pkcs8(&pkcs8)
        .map_err(|_| SigningKeyError::Crypto("reading a new key"))?;
    let public_key = pair.public_key().as_ref().to_vec();
    let kid = kid_of(&public_key);
    let private_key = match secret {
        Some(secret) => secret.seal(&kid, &pkcs8)?,
        None => pkcs8,
    };
    let row = license_signing_key::ActiveModel {
        kid: Set(kid.clone()),
        generation: Set(generation),
        algorithm: Set(ALGORITHM.to_owned()),
        public_key: Set(public_key),
        private_key: Set(Some(PrivateKey(private_key))),
        private_key_encrypted: Set(secret.is_some()),
        created_at: Set(Utc::now()),
        retired_at: Set(None),
    };
    match row.insert(db).await {
        Ok(_) => {
            tracing::info!(kid, generation, "made a new license signing key");
            Ok(true)
        }
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Encrypts the keys that were stored before a secret was set.
async fn seal_plain_keys(
    db: &DatabaseConnection,
    rows: &[license_signing_key::Model],
    secret: &EncryptionSecret,
) -> Result<(), SigningKeyError> {
    for row in rows.iter().filter(|row| !row.private_key_encrypted) {
        let Some(PrivateKey(plain)) = &row.private_key else {
            continue;
        };
        let sealed = secret.seal(&row.kid, plain)?;
        Entity::update_many()
            .col_expr(Column::PrivateKey, Expr::value(sealed))
            .col_expr(Column::PrivateKeyEncrypted, Expr::value(true))
            .filter(Column::Kid.eq(&row.kid))
            .filter(Column::PrivateKeyEncrypted.eq(false))
            .exec(db)
            .await?;
        tracing::info!(kid = row.kid, "encrypted a license signing key at rest");
    }
    Ok(())
}

/// A new Ed25519 key as PKCS#8.
fn generate() -> Result<Vec<u8>, SigningKeyError> {
    Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
        .map(|doc| doc.as_ref().to_vec())
        .map_err(|_| SigningKeyError::Crypto("no randomness for a new key"))
}
