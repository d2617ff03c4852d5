use sea_orm::entity::prelude::*;

/// A file being uploaded into a draft version: its bytes go to object storage as they
/// arrive; the file row appears only when the last byte is in and checked.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "uploads")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub version_id: i64,
    pub user_id: i64,
    pub path: String,
    /// Declared by the client up front; the limit is enforced on it before any byte.
    pub size: i64,
    /// Bytes stored so far: where a resumed upload continues.
    pub received: i64,
    /// The client's SHA-256, checked when the upload completes.
    pub sha256: Option<String>,
    pub object_key: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
