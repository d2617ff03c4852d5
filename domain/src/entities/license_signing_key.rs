use sea_orm::entity::prelude::*;

/// A key licenses are signed with. The newest generation signs; older ones are retired and
/// stay only to verify the licenses they signed.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "license_signing_keys")]
pub struct Model {
    /// The key's thumbprint id (`licensing::keys::kid_of`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub kid: String,
    /// 1 for the first key, one more per rotation. Unique, so instances that create or rotate
    /// at the same moment end up with one newest key.
    #[sea_orm(unique)]
    pub generation: i64,
    /// `Ed25519`.
    pub algorithm: String,
    /// The raw 32-byte public key.
    pub public_key: Vec<u8>,
    /// PKCS#8, sealed with the license key secret when `private_key_encrypted`; removed when
    /// the key is retired, as it never signs again.
    pub private_key: Option<PrivateKey>,
    pub private_key_encrypted: bool,
    pub created_at: DateTimeUtc,
    pub retired_at: Option<DateTimeUtc>,
}

/// Private key bytes, which no `Debug` output (of a row, an active model or an error) shows.
#[derive(Clone, PartialEq, Eq, DeriveValueType)]
pub struct PrivateKey(pub Vec<u8>);

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivateKey([redacted])")
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
