//! Fixed-window rate limits on the actions attackers repeat (log-in, sign-up), counted in the
//! database so that several instances share one count.
use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult,
    QueryFilter, QueryTrait,
};

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
    /// Failed log-ins against one account, from anywhere (or against one unknown name).
    pub log_in_per_account: Limit,
    /// Failed log-ins with one device cookie: its holder once logged in to the account, and
    /// is limited by this instead of the account's limit, which strangers can use up.
    pub log_in_per_device: Limit,
    /// Failed log-ins with a device cookie from one address; higher than `log_in_per_ip` and
    /// counted apart from it, so that guessing from the owner's address cannot lock them out.
    pub log_in_per_ip_with_device: Limit,
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
            log_in_per_device: Limit {
                max: 5,
                window: quarter_hour,
            },
            log_in_per_ip_with_device: Limit {
                max: 100,
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

/// The part of a client's address that rate limits count by: an IPv4 address whole, an IPv6
/// address by its /64, since one subscriber is handed a whole /64 and could otherwise take a
/// fresh address for every attempt. Anything that is not an address is kept as it is.
pub fn client_key(client: &str) -> String {
    match client.parse::<IpAddr>().map(|ip| ip.to_canonical()) {
        Ok(IpAddr::V6(ip)) => {
            let [a, b, c, d, ..] = ip.segments();
            format!("{}/64", std::net::Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
        }
        Ok(IpAddr::V4(ip)) => ip.to_string(),
        Err(_) => client.to_owned(),
    }
}

/// The key of `action` limited per client address (see [`client_key`]).
pub fn ip_key(action: &str, client: &str) -> String {
    format!("{action}:ip:{}", client_key(client))
}

/// One attempt counted under a key: the window it went into, so it can be refunded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    window_start: DateTime<Utc>,
}

/// Counts one attempt under `key` and refuses it with `RateLimited` when it is past `limit`.
/// Counting and deciding is one statement (an upsert that returns the new count), so
/// concurrent attempts each see their own count: no two can both read "one left". Refused
/// attempts count too, which never lengthens the window.
pub async fn hit(
    db: &impl ConnectionTrait,
    key: &str,
    limit: Limit,
    now: DateTime<Utc>,
) -> DomainResult<Counted> {
    // Scoped: the trait's methods would shadow `Ord::max` on numbers elsewhere in the file.
    use sea_orm::sea_query::ExprTrait as _;
    let existing = |column| Expr::col((rate_limit::Entity, column));
    let in_window = existing(rate_limit::Column::WindowStart).gt(now - limit.window);
    let first = rate_limit::ActiveModel {
        key: Set(key.to_owned()),
        window_start: Set(now),
        count: Set(1),
    };
    let mut upsert = rate_limit::Entity::insert(first)
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
        .into_query();
    // Built by hand: sea-orm only asks SQLite for RETURNING behind a feature flag.
    upsert.returning_all();
    let row = db
        .query_one(&upsert)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("rate limit {key}")))?;
    let row = rate_limit::Model::from_query_result(&row, "")?;
    if row.count > i32::try_from(limit.max).unwrap_or(i32::MAX) {
        let left = row.window_start + limit.window - now;
        return Err(DomainError::RateLimited {
            retry_after_seconds: u64::try_from(left.num_seconds())
                .unwrap_or(0)
                .clamp(1, u64::MAX),
        });
    }
    Ok(Counted {
        window_start: row.window_start,
    })
}

/// Takes back an attempt [`hit`] counted, e.g. a log-in that succeeded, so that only
/// failures use up the limit. A window that has since been replaced is left alone.
pub async fn refund(db: &impl ConnectionTrait, key: &str, counted: Counted) -> DomainResult<()> {
    use sea_orm::sea_query::ExprTrait as _;
    rate_limit::Entity::update_many()
        .col_expr(
            rate_limit::Column::Count,
            Expr::col(rate_limit::Column::Count).sub(1),
        )
        .filter(rate_limit::Column::Key.eq(key))
        .filter(rate_limit::Column::WindowStart.eq(counted.window_start))
        .filter(rate_limit::Column::Count.gt(0))
        .exec(db)
        .await?;
    Ok(())
}

/// Forgets `key`'s attempts.
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

    async fn db(connections: u32) -> (sea_orm::DatabaseConnection, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let mut options = sea_orm::ConnectOptions::new(url);
        options.max_connections(connections);
        let db = sea_orm::Database::connect(options).await.unwrap();
        Migrator::up(&db, None).await.unwrap();
        (db, dir)
    }

    fn refused_for(outcome: DomainResult<Counted>) -> u64 {
        match outcome {
            Err(DomainError::RateLimited {
                retry_after_seconds,
            }) => retry_after_seconds,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn the_attempt_after_the_limit_is_refused_until_the_window_ends() {
        let (db, _dir) = db(1).await;
        let limit = Limit {
            max: 3,
            window: Duration::minutes(10),
        };
        let t0 = Utc::now();
        for _ in 0..3 {
            hit(&db, "k", limit, t0).await.unwrap();
        }
        let at = t0 + Duration::minutes(4);
        assert_eq!(refused_for(hit(&db, "k", limit, at).await), 360);
        assert_eq!(
            refused_for(hit(&db, "k", limit, at).await),
            360,
            "refused attempts do not move the window"
        );
        hit(&db, "other", limit, t0).await.unwrap();
        hit(&db, "k", limit, t0 + Duration::minutes(10))
            .await
            .unwrap();
        hit(&db, "k", limit, t0 + Duration::minutes(11))
            .await
            .unwrap();
        reset(&db, "k").await.unwrap();
        assert!(rate_limit::Entity::find_by_id("k".to_owned())
            .one(&db)
            .await
            .unwrap()
            .is_none());
    }

    #[tokio::test]
    async fn a_refund_gives_back_one_attempt_of_the_same_window_only() {
        let (db, _dir) = db(1).await;
        let limit = Limit {
            max: 2,
            window: Duration::minutes(10),
        };
        let t0 = Utc::now();
        let first = hit(&db, "k", limit, t0).await.unwrap();
        hit(&db, "k", limit, t0).await.unwrap();
        refund(&db, "k", first).await.unwrap();
        hit(&db, "k", limit, t0).await.unwrap();
        refused_for(hit(&db, "k", limit, t0).await);

        // A refund from an ended window takes nothing from the new one.
        let later = t0 + Duration::minutes(10);
        let new_window = hit(&db, "k", limit, later).await.unwrap();
        hit(&db, "k", limit, later).await.unwrap();
        refund(&db, "k", first).await.unwrap();
        refused_for(hit(&db, "k", limit, later).await);
        assert_ne!(first, new_window);
    }

    /// Many requests at once: exactly `max` get through, whatever the interleaving, and none
    /// fails on a locked database.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_attempts_get_exactly_the_limit_through() {
        let (db, _dir) = db(4).await;
        let limit = Limit {
            max: 5,
            window: Duration::minutes(10),
        };
        let now = Utc::now();
        let attempts = (0..40).map(|_| {
            let db = db.clone();
            tokio::spawn(async move { hit(&db, "k", limit, now).await })
        });
        let mut allowed = 0;
        for attempt in futures::future::join_all(attempts).await {
            match attempt.unwrap() {
                Ok(_) => allowed += 1,
                Err(DomainError::RateLimited { .. }) => {}
                Err(other) => panic!("{other:?}"),
            }
        }
        assert_eq!(allowed, 5);
        let row = rate_limit::Entity::find_by_id("k".to_owned())
            .one(&db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.count, 40, "every attempt was counted");
    }

    #[tokio::test]
    async fn keys_of_any_length_count() {
        let (db, _dir) = db(1).await;
        let limit = Limit {
            max: 1,
            window: Duration::minutes(10),
        };
        let long = format!("log_in:name:{}", "x".repeat(300));
        hit(&db, &long, limit, Utc::now()).await.unwrap();
        refused_for(hit(&db, &long, limit, Utc::now()).await);
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64_and_ipv4_by_the_address() {
        assert_eq!(
            client_key("2001:db8:1:2:aaaa::1"),
            client_key("2001:db8:1:2:ffff:1:2:3")
        );
        assert_eq!(client_key("2001:db8:1:2::7"), "2001:db8:1:2::/64");
        assert_ne!(client_key("2001:db8:1:2::1"), client_key("2001:db8:1:3::1"));
        assert_eq!(client_key("203.0.113.7"), "203.0.113.7");
        assert_ne!(client_key("203.0.113.7"), client_key("203.0.113.8"));
        assert_eq!(client_key("::ffff:203.0.113.7"), "203.0.113.7");
        assert_eq!(client_key("unknown"), "unknown");
        assert_eq!(ip_key("sign_up", "2001:db8::5"), "sign_up:ip:2001:db8::/64");
    }
}
