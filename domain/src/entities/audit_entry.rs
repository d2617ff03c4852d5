use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub at: DateTimeUtc,
    /// `user`, `admin`, `visitor`, `cli` or `system` (see `audit::ActorKind`).
    pub actor_kind: String,
    pub actor_id: Option<i64>,
    /// The actor's name at the time (`anonymous` for a visitor, `operator` for the CLI).
    pub actor_name: String,
    pub action: String,
    pub subject: String,
    pub ip: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
