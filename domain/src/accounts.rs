//! Accounts and log-in sessions. Sessions live in the database, keyed by the SHA-256 of a
//! random token that only the browser holds, and end on log-out, after an idle period, or at
//! an absolute limit, whichever comes first.
use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::ExprTrait;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    TransactionTrait,
};

use crate::audit::{self, Action, Actor};
use crate::entities::{session, user};
use crate::error::{DomainError, DomainResult};
use crate::names::{check_username, normalize_username, username_key};
use crate::passwords::{check_new_password, PasswordHasher, Verification};
use crate::rate_limit;
use crate::recovery;
use crate::secrets::{hash_secret, new_secret};
use crate::state::AppState;

/// How long a session may last.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// Ends a session nobody has used for this long.
    pub idle: Duration,
    /// Ends every session this long after log-in, however active.
    pub absolute: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle: Duration::days(7),
            absolute: Duration::days(30),
        }
    }
}

/// Activity is recorded at most this often, so reads stay reads.
const TOUCH_INTERVAL: Duration = Duration::minutes(1);

pub struct SignUp<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub password: &'a str,
}

pub async fn sign_up(
    db: &impl ConnectionTrait,
    hasher: &PasswordHasher,
    new: SignUp<'_>,
) -> DomainResult<user::Model> {
    let username = normalize_username(new.username);
    check_username(&username)?;
    let email = normalize_email(new.email)?;
    check_new_password(new.password, &username)?;
    if user::Entity::find()
        .filter(user::Column::Email.eq(&email))
        .one(db)
        .await?
        .is_some()
    {
        return Err(DomainError::invalid(
            "email",
            "an account with this e-mail address exists; log in instead",
        ));
    }
    let password_hash = hasher.hash(new.password.to_owned()).await?;
    let row = user::ActiveModel {
        username_key: Set(username_key(&username)),
        display_name: Set(username.clone()),
        username: Set(username.clone()),
        email: Set(Some(email)),
        bio: Set(String::new()),
        password_hash: Set(Some(password_hash)),
        is_publisher: Set(false),
        is_admin: Set(false),
        created_at: Set(Utc::now()),
        ..Default::default()
    };
    row.insert(db).await.map_err(|e| match e.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => {
            DomainError::invalid("username", format!("'{username}' is taken"))
        }
        _ => DomainError::Database(e),
    })
}

/// Lowercased, trimmed, and plausibly deliverable: one `@`, a dotted domain, no spaces.
pub fn normalize_email(raw: &str) -> DomainResult<String> {
    let email = raw.trim().to_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(email.split_once('@'), Some((local, domain))
            if !local.is_empty() && local.len() <= 64 && !domain.contains('@')
                && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.'));
    if valid {
        Ok(email)
    } else {
        Err(DomainError::invalid(
            "email",
            "enter an address like name@example.com",
        ))
    }
}

/// A new session's token: give it to the browser once, keep only its hash.
#[derive(Debug)]
pub struct SessionToken(pub String);

pub async fn log_in(
    db: &impl ConnectionTrait,
    hasher: &PasswordHasher,
    policy: &SessionPolicy,
    login: &str,
    password: &str,
    user_agent: &str,
) -> DomainResult<(user::Model, SessionToken)> {
    let login = login.trim();
    let found = user::Entity::find()
        .filter(
            user::Column::UsernameKey
                .eq(username_key(login))
                .or(user::Column::Email.eq(login.to_lowercase())),
        )
        .one(db)
        .await?;
    let stored = found.as_ref().and_then(|u| u.password_hash.clone());
    // Unknown users cost the same hash as known ones, so timing does not reveal accounts.
    let verdict = hasher
        .verify(
            password.to_owned(),
            stored.unwrap_or_else(|| UNKNOWN_USER_HASH.to_owned()),
        )
        .await?;
    let (Some(user), Verification::Match { needs_rehash }) = (found, verdict) else {
        return Err(DomainError::Unauthenticated(
            "wrong username or password".into(),
        ));
    };
    let user = if needs_rehash {
        let mut row: user::ActiveModel = user.into();
        row.password_hash = Set(Some(hasher.hash(password.to_owned()).await?));
        row.update(db).await?
    } else {
        user
    };
    let token = start_session(db, policy, user.id, user_agent, Utc::now()).await?;
    Ok((user, token))
}

/// A valid argon2id hash of a random password, verified against when the login is unknown.
const UNKNOWN_USER_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3zJ4V9rO6Fz3Q8m1c0KJm9y1s8vKq0m9y9u8S1h2JvU";

async fn start_session(
    db: &impl ConnectionTrait,
    policy: &SessionPolicy,
    user_id: i64,
    user_agent: &str,
    now: DateTime<Utc>,
) -> DomainResult<SessionToken> {
    let token = new_secret("")?;
    session::ActiveModel {
        id_hash: Set(hash_secret(&token)),
        user_id: Set(user_id),
        created_at: Set(now),
        last_seen_at: Set(now),
        expires_at: Set(now + policy.absolute),
        user_agent: Set(user_agent.chars().take(255).collect()),
    }
    .insert(db)
    .await?;
    Ok(SessionToken(token))
}

/// The user a session token belongs to, if the session is still alive at `now`.
pub async fn session_user(
    db: &impl ConnectionTrait,
    policy: &SessionPolicy,
    token: &str,
    now: DateTime<Utc>,
) -> DomainResult<Option<user::Model>> {
    let Some(session) = session::Entity::find_by_id(hash_secret(token))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    if now >= session.expires_at || now - session.last_seen_at >= policy.idle {
        session::Entity::delete_by_id(session.id_hash)
            .exec(db)
            .await?;
        return Ok(None);
    }
    let user_id = session.user_id;
    if now - session.last_seen_at >= TOUCH_INTERVAL {
        let mut row: session::ActiveModel = session.into();
        row.last_seen_at = Set(now);
        row.update(db).await?;
    }
    Ok(user::Entity::find_by_id(user_id).one(db).await?)
}

/// Ends this session on the server; the cookie is worthless from now on.
pub async fn log_out(db: &impl ConnectionTrait, token: &str) -> DomainResult<()> {
    session::Entity::delete_by_id(hash_secret(token))
        .exec(db)
        .await?;
    Ok(())
}

/// Ends every session of the user except `keep` (the one asking).
pub async fn end_other_sessions(
    db: &impl ConnectionTrait,
    user_id: i64,
    keep: &str,
) -> DomainResult<u64> {
    let result = session::Entity::delete_many()
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::IdHash.ne(hash_secret(keep)))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// Sign-up as the site offers it: limited per address (see [`RateLimits`]).
pub async fn sign_up_from(
    state: &AppState,
    client: &str,
    new: SignUp<'_>,
) -> DomainResult<user::Model> {
    let (limit, now) = (state.rate_limits.sign_up_per_ip, Utc::now());
    rate_limit::hit(&state.db, &format!("sign_up:ip:{client}"), limit, now).await?;
    let user = sign_up(&state.db, &state.passwords, new).await?;
    recovery::send_verification(state, &user).await?;
    Ok(user)
}

/// Log-in as the site offers it. Failed attempts are counted per address and per account;
/// past either limit the answer is `RateLimited` before any password is checked, and a
/// successful log-in clears the account's count.
pub async fn log_in_from(
    state: &AppState,
    client: &str,
    login: &str,
    password: &str,
    user_agent: &str,
) -> DomainResult<(user::Model, SessionToken)> {
    let (limits, now) = (state.rate_limits, Utc::now());
    let ip_key = format!("log_in:ip:{client}");
    let account_key = format!("log_in:account:{}", username_key(login));
    rate_limit::check(&state.db, &ip_key, limits.log_in_per_ip, now).await?;
    rate_limit::check(&state.db, &account_key, limits.log_in_per_account, now).await?;
    let outcome = log_in(
        &state.db,
        &state.passwords,
        &state.sessions,
        login,
        password,
        user_agent,
    )
    .await;
    match &outcome {
        Err(DomainError::Unauthenticated(_)) => {
            rate_limit::count(&state.db, &ip_key, limits.log_in_per_ip, now).await?;
            rate_limit::count(&state.db, &account_key, limits.log_in_per_account, now).await?;
            let tried = Actor {
                id: None,
                name: login,
                ip: client,
            };
            audit::record(&state.db, tried, Action::LogInFailed, login).await?;
        }
        Ok((user, _)) => {
            rate_limit::reset(&state.db, &account_key).await?;
            audit::record(
                &state.db,
                Actor::user(user, client),
                Action::LogIn,
                user_agent,
            )
            .await?;
        }
        Err(_) => {}
    }
    outcome
}

/// Ends every session of the user (after a password reset).
pub async fn end_all_sessions(db: &impl ConnectionTrait, user_id: i64) -> DomainResult<u64> {
    let result = session::Entity::delete_many()
        .filter(session::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// A session as its owner sees it in the list of their sessions.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    /// The stored hash: names the session without being usable as a cookie.
    pub id: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub user_agent: String,
    pub current: bool,
}

/// The user's live sessions, the most recently used first.
pub async fn list_sessions(
    db: &impl ConnectionTrait,
    policy: &SessionPolicy,
    user_id: i64,
    current_token: &str,
) -> DomainResult<Vec<SessionInfo>> {
    use sea_orm::QueryOrder;
    let now = Utc::now();
    let current = hash_secret(current_token);
    Ok(session::Entity::find()
        .filter(session::Column::UserId.eq(user_id))
        .order_by_desc(session::Column::LastSeenAt)
        .all(db)
        .await?
        .into_iter()
        .filter(|s| now < s.expires_at && now - s.last_seen_at < policy.idle)
        .map(|s| SessionInfo {
            current: s.id_hash == current,
            id: s.id_hash,
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            user_agent: s.user_agent,
        })
        .collect())
}

/// Ends one of the user's sessions by its listed id; it stops working at once.
pub async fn revoke_session(
    db: &impl ConnectionTrait,
    user: &user::Model,
    session_id: &str,
    ip: &str,
) -> DomainResult<()> {
    let deleted = session::Entity::delete_many()
        .filter(session::Column::IdHash.eq(session_id))
        .filter(session::Column::UserId.eq(user.id))
        .exec(db)
        .await?;
    if deleted.rows_affected == 0 {
        return Err(DomainError::NotFound("session"));
    }
    let short: String = session_id.chars().take(8).collect();
    audit::record(
        db,
        Actor::user(user, ip),
        Action::SessionRevoke,
        &format!("session {short}…"),
    )
    .await
}

/// "Log out everywhere else": ends every session but the current one.
pub async fn log_out_other_sessions(
    db: &impl ConnectionTrait,
    user: &user::Model,
    current_token: &str,
    ip: &str,
) -> DomainResult<u64> {
    let ended = end_other_sessions(db, user.id, current_token).await?;
    audit::record(
        db,
        Actor::user(user, ip),
        Action::OtherSessionsEnd,
        &format!("{ended} sessions"),
    )
    .await?;
    Ok(ended)
}

/// Changes the password after checking the current one, and ends the user's other
/// sessions (whoever else was logged in with the old password is logged out).
pub async fn change_password(
    state: &AppState,
    user: &user::Model,
    current_token: &str,
    current_password: &str,
    new_password: &str,
    ip: &str,
) -> DomainResult<()> {
    rate_limit::hit(
        &state.db,
        &format!("password_change:account:{}", user.id),
        state.rate_limits.password_change_per_account,
        Utc::now(),
    )
    .await?;
    let stored = user
        .password_hash
        .clone()
        .unwrap_or_else(|| UNKNOWN_USER_HASH.to_owned());
    let verdict = state
        .passwords
        .verify(current_password.to_owned(), stored)
        .await?;
    if !matches!(verdict, Verification::Match { .. }) {
        return Err(DomainError::invalid(
            "current_password",
            "this is not your current password",
        ));
    }
    check_new_password(new_password, &user.username).map_err(|e| match e {
        DomainError::Invalid { message, .. } => DomainError::invalid("new_password", message),
        other => other,
    })?;
    let hash = state.passwords.hash(new_password.to_owned()).await?;
    let txn = state.db.begin().await?;
    let mut row: user::ActiveModel = user.clone().into();
    row.password_hash = Set(Some(hash));
    row.update(&txn).await?;
    end_other_sessions(&txn, user.id, current_token).await?;
    audit::record(
        &txn,
        Actor::user(user, ip),
        Action::PasswordChange,
        &user.username,
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Turns on publishing for the user's own account (organizations always publish).
pub async fn enable_publishing(
    db: &impl ConnectionTrait,
    user: &user::Model,
    ip: &str,
) -> DomainResult<user::Model> {
    if user.is_publisher {
        return Ok(user.clone());
    }
    let mut row: user::ActiveModel = user.clone().into();
    row.is_publisher = Set(true);
    let user = row.update(db).await?;
    audit::record(
        db,
        Actor::user(&user, ip),
        Action::PublishingEnable,
        &user.username,
    )
    .await?;
    Ok(user)
}

/// Creates an account from the command line (an operator's `bazaar admin create`); the
/// address counts as confirmed and the password rules apply as on the site.
pub async fn create_by_operator(
    state: &AppState,
    new: SignUp<'_>,
    admin: bool,
) -> DomainResult<user::Model> {
    let user = sign_up(&state.db, &state.passwords, new).await?;
    let mut row: user::ActiveModel = user.into();
    row.is_admin = Set(admin);
    row.email_verified_at = Set(Some(Utc::now()));
    let user = row.update(&state.db).await?;
    let operator = Actor {
        id: None,
        name: "operator",
        ip: "cli",
    };
    let subject = format!("{}{}", user.username, if admin { " (admin)" } else { "" });
    audit::record(&state.db, operator, Action::AdminCreate, &subject).await?;
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;
    use migrations::{Migrator, MigratorTrait};

    async fn db() -> (sea_orm::DatabaseConnection, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let db = sea_orm::Database::connect(&url).await.unwrap();
        Migrator::up(&db, None).await.unwrap();
        (db, dir)
    }

    fn alice() -> SignUp<'static> {
        SignUp {
            username: "Alice",
            email: " Alice@Example.org ",
            password: "a long enough passphrase",
        }
    }

    #[tokio::test]
    async fn sign_up_then_log_in_by_username_or_email() {
        let (db, _dir) = db().await;
        let hasher = PasswordHasher::new(2);
        let policy = SessionPolicy::default();
        let user = sign_up(&db, &hasher, alice()).await.unwrap();
        assert_eq!(user.email.as_deref(), Some("alice@example.org"));
        assert!(user
            .password_hash
            .as_deref()
            .unwrap()
            .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        for login in ["alice", "ALICE", "alice@example.org"] {
            let (found, token) = log_in(
                &db,
                &hasher,
                &policy,
                login,
                "a long enough passphrase",
                "t",
            )
            .await
            .unwrap();
            assert_eq!(found.id, user.id);
            let current = session_user(&db, &policy, &token.0, Utc::now())
                .await
                .unwrap();
            assert_eq!(current.map(|u| u.id), Some(user.id));
        }
        let err = log_in(&db, &hasher, &policy, "alice", "wrong passphrase!", "t")
            .await
            .unwrap_err();
        assert!(matches!(err, DomainError::Unauthenticated(_)));
        let err = log_in(&db, &hasher, &policy, "nobody", "whatever-it-is", "t")
            .await
            .unwrap_err();
        assert!(
            matches!(err, DomainError::Unauthenticated(_)),
            "unknown users get the same answer"
        );
    }

    #[tokio::test]
    async fn duplicates_and_bad_fields_are_refused_by_name() {
        let (db, _dir) = db().await;
        let hasher = PasswordHasher::new(2);
        sign_up(&db, &hasher, alice()).await.unwrap();
        let field = |e: DomainError| match e {
            DomainError::Invalid { field, .. } => field,
            other => panic!("{other:?}"),
        };
        let again = SignUp {
            username: "ａｌｉｃｅ",
            email: "other@example.org",
            ..alice()
        };
        assert_eq!(
            field(sign_up(&db, &hasher, again).await.unwrap_err()),
            "username"
        );
        let same_mail = SignUp {
            username: "bob",
            email: "ALICE@example.org",
            ..alice()
        };
        assert_eq!(
            field(sign_up(&db, &hasher, same_mail).await.unwrap_err()),
            "email"
        );
        let bad_mail = SignUp {
            username: "bob",
            email: "bob@localhost",
            ..alice()
        };
        assert_eq!(
            field(sign_up(&db, &hasher, bad_mail).await.unwrap_err()),
            "email"
        );
        let weak = SignUp {
            username: "bob",
            email: "bob@example.org",
            password: "password123",
        };
        assert_eq!(
            field(sign_up(&db, &hasher, weak).await.unwrap_err()),
            "password"
        );
    }

    #[tokio::test]
    async fn sessions_end_on_log_out_idle_absolute_and_for_others() {
        let (db, _dir) = db().await;
        let hasher = PasswordHasher::new(2);
        let policy = SessionPolicy {
            idle: Duration::hours(1),
            absolute: Duration::hours(5),
        };
        let user = sign_up(&db, &hasher, alice()).await.unwrap();
        let now = Utc::now();
        let start = |at| start_session(&db, &policy, user.id, "t", at);

        let token = start(now).await.unwrap();
        log_out(&db, &token.0).await.unwrap();
        assert!(
            session_user(&db, &policy, &token.0, now)
                .await
                .unwrap()
                .is_none(),
            "logged out at once"
        );

        let token = start(now).await.unwrap();
        let idle_end = now + Duration::minutes(61);
        assert!(
            session_user(&db, &policy, &token.0, idle_end)
                .await
                .unwrap()
                .is_none(),
            "idle timeout"
        );

        let token = start(now).await.unwrap();
        for hour in 1..5 {
            let at = now + Duration::minutes(hour * 59);
            assert!(
                session_user(&db, &policy, &token.0, at)
                    .await
                    .unwrap()
                    .is_some(),
                "active at {hour}h"
            );
        }
        let past_absolute = now + Duration::hours(5);
        assert!(
            session_user(&db, &policy, &token.0, past_absolute)
                .await
                .unwrap()
                .is_none(),
            "absolute limit"
        );

        let mine = start(now).await.unwrap();
        let other = start(now).await.unwrap();
        assert_eq!(end_other_sessions(&db, user.id, &mine.0).await.unwrap(), 1);
        assert!(session_user(&db, &policy, &mine.0, now)
            .await
            .unwrap()
            .is_some());
        assert!(session_user(&db, &policy, &other.0, now)
            .await
            .unwrap()
            .is_none());
        assert!(session_user(&db, &policy, "not-a-token", now)
            .await
            .unwrap()
            .is_none());
    }

    #[test]
    fn the_unknown_user_hash_is_a_real_hash_so_it_costs_a_full_verification() {
        use argon2::password_hash::phc::PasswordHash;
        let hash = PasswordHash::new(UNKNOWN_USER_HASH).expect("parses");
        assert_eq!(hash.algorithm.as_str(), "argon2id");
    }

    #[test]
    fn email_normalisation() {
        assert_eq!(
            normalize_email(" Bob@Example.COM ").unwrap(),
            "bob@example.com"
        );
        for bad in [
            "",
            "bob",
            "@example.com",
            "bob@",
            "bob@example",
            "b ob@example.com",
            "a@b@c.d",
            "bob@.com",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad:?}");
        }
    }
}
