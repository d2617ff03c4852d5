//! Fixed-window rate limits on the actions attackers repeat (log-in, sign-up), counted in the
//! database so that several instances share one count.
use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};

use crate::entities::rate_limit;
use crate::error::{DomainError, DomainResult};

/// The address a request came from, as the server determined it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: u32,
    pub window: Duration,
}

#[derive(Debug, Clone, Copy)]
pub struct RateLimits {
    /// Failed log-ins from one address.
    pub log_in_per_ip: Limit,
    /// Failed log-ins against one account, from anywhere.
    pub log_in_per_account: Limit,
    /// Sign-up attempts from one address.
    pub sign_up_per_ip: Limit,
    /// Password changes (right or wrong current password) by one account.
    pub password_change_per_account: Limit,
    /// Password-reset e-mails asked for from one address.
    pub password_reset_per_ip: Limit,
    /// API tokens created by one account.
    pub token_create_per_account: Limit,
}

impl Default for RateLimits {
    fn default() -> Self {
        let quarter_hour = Duration::minutes(15);
        Self {
            log_in_per_ip: Limit {
                max: 20,
                window: quarter_hour,
            },
            log_in_per_account: Limit {
                max: 5,
                window: quarter_hour,
            },
            sign_up_per_ip: Limit {
                max: 10,
                window: Duration::hours(1),
            },
            password_change_per_account: Limit {
                max: 5,
                window: quarter_hour,
            },
            password_reset_per_ip: Limit {
                max: 5,
                window: Duration::hours(1),
            },
            token_create_per_account: Limit {
                max: 20,
                window: Duration::hours(1),
            },
        }
    }
}

/// Refuses with `RateLimited` when `key` has used up `limit` in the current window.
pub async fn check(
    db: &impl ConnectionTrait,
    key: &str,
    limit: Limit,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    if let Some(row) = rate_limit::Entity::find_by_id(key.to_owned())
        .one(db)
        .await?
    {
        let ends = row.window_start + limit.window;
        if now < ends && row.count >= limit.max as i32 {
            return Err(DomainError::RateLimited {
                retry_after_seconds: (ends - now).num_seconds().max(1) as u64,
            });
        }
    }
    Ok(())
}

/// Counts one attempt under `key`, starting a new window when the last one has ended. One
/// statement, so concurrent attempts never conflict: a read-then-write transaction on SQLite
/// fails with "database is locked" when another request writes between its read and its write.
pub async fn count(
    db: &sea_orm::DatabaseConnection,
    key: &str,
    limit: Limit,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    // Scoped: the trait's methods would shadow `Ord::max` on numbers elsewhere in the file.
    use sea_orm::sea_query::ExprTrait as _;
    let existing = |column| Expr::col((rate_limit::Entity, column));
    let in_window = existing(rate_limit::Column::WindowStart).gt(now - limit.window);
    let first = rate_limit::ActiveModel {
        key: Set(key.to_owned()),
        window_start: Set(now),
        count: Set(1),
    };
    rate_limit::Entity::insert(first)
        .on_conflict(
            OnConflict::column(rate_limit::Column::Key)
                .value(
                    rate_limit::Column::Count,
                    Expr::case(
                        in_window.clone(),
                        existing(rate_limit::Column::Count).add(1),
                    )
                    .finally(1),
                )
                .value(
                    rate_limit::Column::WindowStart,
                    Expr::case(in_window, existing(rate_limit::Column::WindowStart)).finally(now),
                )
                .to_owned(),
        )
        .exec(db)
        .await?;
    Ok(())
}

/// Counts an attempt that is limited whatever its outcome: refused once `limit` is used up.
pub async fn hit(
    db: &sea_orm::DatabaseConnection,
    key: &str,
    limit: Limit,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    check(db, key, limit, now).await?;
    count(db, key, limit, now).await
}

/// Forgets `key`'s attempts, e.g. after a successful log-in.
pub async fn reset(db: &impl ConnectionTrait, key: &str) -> DomainResult<()> {
    rate_limit::Entity::delete_by_id(key.to_owned())
        .exec(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use migrations::{Migrator, MigratorTrait};

    #[tokio::test]
    async fn the_attempt_after_the_limit_is_refused_until_the_window_ends() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let db = sea_orm::Database::connect(&url).await.unwrap();
        Migrator::up(&db, None).await.unwrap();
        let limit = Limit {
            max: 3,
            window: Duration::minutes(10),
        };
        let t0 = Utc::now();
        for _ in 0..3 {
            check(&db, "k", limit, t0).await.unwrap();
            count(&db, "k", limit, t0).await.unwrap();
        }
        match check(&db, "k", limit, t0 + Duration::minutes(4)).await {
            Err(DomainError::RateLimited {
                retry_after_seconds,
            }) => assert_eq!(retry_after_seconds, 360),
            other => panic!("expected a refusal, got {other:?}"),
        }
        check(&db, "other", limit, t0).await.unwrap();
        check(&db, "k", limit, t0 + Duration::minutes(10))
            .await
            .unwrap();
        count(&db, "k", limit, t0 + Duration::minutes(10))
            .await
            .unwrap();
        check(&db, "k", limit, t0 + Duration::minutes(11))
            .await
            .unwrap();
        reset(&db, "k").await.unwrap();
        assert!(rate_limit::Entity::find_by_id("k".to_owned())
            .one(&db)
            .await
            .unwrap()
            .is_none());
    }

    /// Attempts from many requests at once all count, none failing on a locked database.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_attempts_all_count() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let mut options = sea_orm::ConnectOptions::new(url);
        options.max_connections(4);
        let db = sea_orm::Database::connect(options).await.unwrap();
        Migrator::up(&db, None).await.unwrap();
        let limit = Limit {
            max: 1000,
            window: Duration::minutes(10),
        };
        let now = Utc::now();
        let attempts = (0..40).map(|_| {
            let db = db.clone();
            tokio::spawn(async move { count(&db, "k", limit, now).await })
        });
        for attempt in futures::future::join_all(attempts).await {
            attempt.unwrap().unwrap();
        }
        let row = rate_limit::Entity::find_by_id("k".to_owned())
            .one(&db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.count, 40);
    }
}
