use sea_orm::entity::prelude::*;

/// A listing in the catalog (named `model` as on every model hub).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "models")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub owner_id: i64,
    pub slug: String,
    pub name: String,
    pub summary: String,
    pub task: String,
    /// JSON array of strings.
    pub tags: Json,
    /// The model card: markdown with YAML front matter.
    pub card: String,
    pub is_published: bool,
    /// `public`, `unlisted` or `private`; see [`crate::licensing::access::Visibility`].
    pub visibility: String,
    pub downloads: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// Set when the owner deletes the listing; its files stay until an admin purges them.
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
