//! Row locks inside a transaction, the same on SQLite and PostgreSQL. A transaction that must
//! read a row before changing it takes the lock first with a no-op write: PostgreSQL then orders
//! the writers of that row, and SQLite takes its database write lock up front, because a SQLite
//! transaction that reads first fails with "database is locked" when another connection writes
//! before it does.
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::entities::user;
use crate::error::{DomainError, DomainResult};

/// Locks a user's or an organization's row for the rest of the transaction and returns it as
/// it is now.
pub(crate) async fn lock_user(db: &impl ConnectionTrait, id: i64) -> DomainResult<user::Model> {
    user::Entity::update_many()
        .col_expr(
            user::Column::StorageQuotaBytes,
            Expr::col(user::Column::StorageQuotaBytes),
        )
        .filter(user::Column::Id.eq(id))
        .exec(db)
        .await?;
    user::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(DomainError::NotFound("account"))
}
