use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub username: String,
    /// Normalised form used for case-insensitive uniqueness.
    #[sea_orm(unique)]
    pub username_key: String,
    pub email: Option<String>,
    pub display_name: String,
    pub bio: String,
    pub password_hash: Option<String>,
    pub is_publisher: bool,
    pub is_admin: bool,
    pub created_at: DateTimeUtc,
    /// `user` or `org`: organizations share the users' namespace and own models the same way.
    pub kind: String,
    pub email_verified_at: Option<DateTimeUtc>,
    /// Overrides the configured storage quota for this owner, in bytes (`None`: the default).
    pub storage_quota_bytes: Option<i64>,
    /// The object key of the profile picture, if there is one.
    pub avatar_key: Option<String>,
    /// Up to five links shown on the profile, one per line.
    pub links: String,
}

impl Model {
    pub fn is_org(&self) -> bool {
        self.kind == KIND_ORG
    }
}

pub const KIND_USER: &str = "user";
pub const KIND_ORG: &str = "org";

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
