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
use crate::entities::{login_device, session, user};
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

/// An account made from the command line or by tests: refuses a taken address outright
/// (the site's sign-up, [`sign_up_from`], does not say so). The address is unconfirmed.
pub async fn sign_up(
    db: &impl ConnectionTrait,
    hasher: &PasswordHasher,
    new: SignUp<'_>,
) -> DomainResult<user::Model> {
    let (username, email) = check_sign_up(db, &new).await?;
    if email_owner(db, &email).await?.is_some() {
        return Err(DomainError::invalid(
            "email",
            "an account with this e-mail address exists; log in instead",
        ));
    }
    let password_hash = hasher.hash(new.password.to_owned()).await?;
    match insert_user(db, &username, &email, password_hash).await? {
        Some(user) => Ok(user),
        None => Err(DomainError::invalid(
            "email",
            "an account with this e-mail address exists; log in instead",
        )),
    }
}

/// The fields of a sign-up, checked: `(username, e-mail)`, normalised. A taken username is
/// refused here (usernames are public); a taken address is not looked at.
async fn check_sign_up(
    db: &impl ConnectionTrait,
    new: &SignUp<'_>,
) -> DomainResult<(String, String)> {
    let username = normalize_username(new.username);
    check_username(&username)?;
    let email = normalize_email(new.email)?;
    check_new_password(new.password, &username)?;
    if username_taken(db, &username).await? {
        return Err(username_is_taken(&username));
    }
    Ok((username, email))
}

fn username_is_taken(username: &str) -> DomainError {
    DomainError::invalid("username", format!("'{username}' is taken"))
}

async fn username_taken(db: &impl ConnectionTrait, username: &str) -> DomainResult<bool> {
    Ok(user::Entity::find()
        .filter(user::Column::UsernameKey.eq(username_key(username)))
        .one(db)
        .await?
        .is_some())
}

async fn email_owner(db: &impl ConnectionTrait, email: &str) -> DomainResult<Option<user::Model>> {
    Ok(user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .one(db)
        .await?)
}

/// Inserts a new, unconfirmed account; `None` when the address was taken meanwhile (a
/// username taken meanwhile is refused by name).
async fn insert_user(
    db: &impl ConnectionTrait,
    username: &str,
    email: &str,
    password_hash: String,
) -> DomainResult<Option<user::Model>> {
    let row = user::ActiveModel {
        username_key: Set(username_key(username)),
        display_name: Set(username.to_owned()),
        username: Set(username.to_owned()),
        email: Set(Some(email.to_owned())),
        bio: Set(String::new()),
        password_hash: Set(Some(password_hash)),
        is_publisher: Set(false),
        is_admin: Set(false),
        created_at: Set(Utc::now()),
        // Set rather than left to the column default: SQLite's RETURNING now and then
        // read NULL for a default that a later migration added (a pooled connection from before).
        links: Set(String::new()),
        ..Default::default()
    };
    match row.insert(db).await {
        Ok(user) => Ok(Some(user)),
        Err(e)
            if matches!(
                e.sql_err(),
                Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
            ) =>
        {
            if username_taken(db, username).await? {
                Err(username_is_taken(username))
            } else {
                Ok(None)
            }
        }
        Err(e) => Err(DomainError::Database(e)),
    }
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
    let found = find_login(db, login).await?;
    let user = check_password(db, hasher, found, password).await?;
    if user.email.is_some() && user.email_verified_at.is_none() {
        return Err(DomainError::Unconfirmed { resent: false });
    }
    let token = start_session(db, policy, user.id, user_agent, Utc::now()).await?;
    Ok((user, token))
}

/// The account a log-in names, by username or by e-mail address.
async fn find_login(db: &impl ConnectionTrait, login: &str) -> DomainResult<Option<user::Model>> {
    let login = login.trim();
    Ok(user::Entity::find()
        .filter(
            user::Column::UsernameKey
                .eq(username_key(login))
                .or(user::Column::Email.eq(login.to_lowercase())),
        )
        .one(db)
        .await?)
}

/// The account, when `password` is its password (rehashed when the parameters changed).
async fn check_password(
    db: &impl ConnectionTrait,
    hasher: &PasswordHasher,
    found: Option<user::Model>,
    password: &str,
) -> DomainResult<user::Model> {
    let stored = found.as_ref().and_then(|u| u.password_hash.clone());
    // Unknown users cost the same hash as known ones, so timing does not reveal accounts.
    let verdict = hasher
        .verify(
            password.to_owned(),
            stored.unwrap_or_else(|| UNKNOWN_USER_HASH.to_owned()),
        )
        .await?;
    let (Some(user), Verification::Match { needs_rehash }) = (found, verdict) else {
        return Err(wrong_password());
    };
    if needs_rehash {
        let mut row: user::ActiveModel = user.into();
        row.password_hash = Set(Some(hasher.hash(password.to_owned()).await?));
        Ok(row.update(db).await?)
    } else {
        Ok(user)
    }
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

/// What a sign-up answers: the same whether the address was new or already an account's.
#[derive(Debug)]
pub struct SignUpSent {
    /// The address the link went to, as typed (normalised).
    pub email: String,
    /// The confirmation link's token, only where the pages may show e-mailed links (see
    /// `AppState::mail_links_in_page`) and only for a new account.
    pub confirm_token: Option<String>,
}

/// Sign-up as the site offers it, limited per address (see [`RateLimits`]). It stops at
/// "confirm your e-mail": no session exists until the e-mailed link is followed
/// ([`confirm_sign_up`]). A taken address gets the same answer, after the same work (the
/// password is hashed either way), and its owner is told by e-mail instead; so the form
/// reveals usernames, which are public, but not who has an account under which address.
pub async fn sign_up_from(
    state: &AppState,
    client: &str,
    new: SignUp<'_>,
) -> DomainResult<SignUpSent> {
    let (limit, now) = (state.rate_limits.sign_up_per_ip, Utc::now());
    rate_limit::hit(
        &state.db,
        &rate_limit::ip_key("sign_up", client),
        limit,
        now,
    )
    .await?;
    let (username, email) = check_sign_up(&state.db, &new).await?;
    let password_hash = state.passwords.hash(new.password.to_owned()).await?;
    let created = match email_owner(&state.db, &email).await? {
        Some(_) => None,
        None => insert_user(&state.db, &username, &email, password_hash).await?,
    };
    let confirm_token = match created {
        Some(user) => {
            let token = recovery::send_verification(state, &user).await?;
            audit::record(&state.db, Actor::visitor(client), Action::SignUp, &username).await?;
            state.mail_links_in_page.then_some(token)
        }
        None => {
            let owner = email_owner(&state.db, &email)
                .await?
                .ok_or_else(|| DomainError::Internal("an address owner vanished".into()))?;
            recovery::tell_owner_of_sign_up(state, &owner).await?;
            let subject = format!("{username} (address of {})", owner.username);
            let visitor = Actor::visitor(client);
            audit::record(&state.db, visitor, Action::SignUpAddressTaken, &subject).await?;
            None
        }
    };
    Ok(SignUpSent {
        email,
        confirm_token,
    })
}

/// Follows a confirmation link: the address is confirmed and, when `log_in` (the browser
/// has no session yet), a session starts, so a sign-up ends logged in.
pub async fn confirm_sign_up(
    state: &AppState,
    token: &str,
    ip: &str,
    user_agent: &str,
    log_in: bool,
) -> DomainResult<(user::Model, Option<SessionToken>)> {
    let user = recovery::verify_email(state, token, ip).await?;
    if !log_in {
        return Ok((user, None));
    }
    let session =
        start_session(&state.db, &state.sessions, user.id, user_agent, Utc::now()).await?;
    audit::record(&state.db, Actor::user(&user, ip), Action::LogIn, user_agent).await?;
    Ok((user, Some(session)))
}

/// How long a device cookie lets its browser past the account's log-in limit, counted from
/// its last successful log-in.
pub const DEVICE_LIFETIME: Duration = Duration::days(365);

/// A log-in as the site receives it.
pub struct LogInAttempt<'a> {
    pub client: &'a str,
    pub login: &'a str,
    pub password: &'a str,
    pub user_agent: &'a str,
    /// The device cookie the browser holds from an earlier log-in, if any.
    pub device: Option<&'a str>,
}

/// A device cookie's token: give it to the browser, keep only its hash.
#[derive(Debug)]
pub struct DeviceToken(pub String);

#[derive(Debug)]
pub struct LoggedIn {
    pub user: user::Model,
    pub session: SessionToken,
    /// The browser's device cookie: the one it sent when that is this account's, else new.
    pub device: DeviceToken,
}

/// Log-in as the site offers it. Each attempt is counted before its password is checked, in
/// one statement per limit, so parallel guesses cannot slip past the count; a successful
/// attempt is refunded, so the limits count failures. Attempts are limited per address
/// (IPv6 by /64), per name as typed, and per account, so a username and its e-mail address
/// share one count. Only the per-name count is ever answered with 429: an unknown name has
/// that count alone, so a 429 on a second name of an account whose other name was exhausted
/// would tell that both are one account. An exhausted account count is answered as a wrong
/// password instead, whatever the password. A browser holding a device cookie from an
/// earlier log-in to this account is limited per cookie instead: strangers' guesses cannot
/// lock the owner out, and the cookie's own guesses stay limited.
pub async fn log_in_from(state: &AppState, attempt: LogInAttempt<'_>) -> DomainResult<LoggedIn> {
    let (limits, now) = (state.rate_limits, Utc::now());
    let found = find_login(&state.db, attempt.login).await?;
    let device = match (attempt.device, &found) {
        (Some(token), Some(user)) => known_device(&state.db, token, user.id, now).await?,
        _ => None,
    };
    // (key, limit) pairs: the first two answer 429 when exhausted, the last is silent.
    let (ip, named, account) = match (&device, &found) {
        (Some(device), _) => (
            (
                rate_limit::ip_key("log_in_device", attempt.client),
                limits.log_in_per_ip_with_device,
            ),
            (
                format!("log_in:device:{}", device.id_hash),
                limits.log_in_per_device,
            ),
            None,
        ),
        (None, found) => (
            (
                rate_limit::ip_key("log_in", attempt.client),
                limits.log_in_per_ip,
            ),
            (login_name_key(attempt.login), limits.log_in_per_account),
            found.as_ref().map(|user| {
                (
                    format!("log_in:account:{}", user.id),
                    limits.log_in_per_account,
                )
            }),
        ),
    };
    let ip_counted = rate_limit::hit(&state.db, &ip.0, ip.1, now).await?;
    let named_counted = rate_limit::hit(&state.db, &named.0, named.1, now).await?;
    let account_counted = match &account {
        Some((key, limit)) => match rate_limit::hit(&state.db, key, *limit, now).await {
            Ok(counted) => Some(Some(counted)),
            Err(DomainError::RateLimited { .. }) => None,
            Err(other) => return Err(other),
        },
        None => Some(None),
    };
    // The password is checked either way, so an exhausted account costs the same time.
    let checked = check_password(&state.db, &state.passwords, found, attempt.password).await;
    let (user, account_counted) = match (checked, account_counted) {
        (Ok(user), Some(account_counted)) => (user, account_counted),
        (Ok(_), None) => {
            return Err(failed_log_in(state, &attempt, wrong_password()).await);
        }
        (Err(err), _) => return Err(failed_log_in(state, &attempt, err).await),
    };
    rate_limit::refund(&state.db, &ip.0, ip_counted).await?;
    rate_limit::refund(&state.db, &named.0, named_counted).await?;
    if let (Some((key, _)), Some(counted)) = (&account, account_counted) {
        rate_limit::refund(&state.db, key, counted).await?;
    }
    // Only after the right password: the answer tells a stranger nothing.
    recovery::require_confirmed(state, &user).await?;
    let session =
        start_session(&state.db, &state.sessions, user.id, attempt.user_agent, now).await?;
    let device = remember_device(
        &state.db,
        &user,
        attempt.device.filter(|_| device.is_some()),
        now,
    )
    .await?;
    audit::record(
        &state.db,
        Actor::user(&user, attempt.client),
        Action::LogIn,
        attempt.user_agent,
    )
    .await?;
    Ok(LoggedIn {
        user,
        session,
        device,
    })
}

fn wrong_password() -> DomainError {
    DomainError::Unauthenticated("wrong username or password".into())
}

/// Records a refused log-in (a wrong password, not a database failure) and gives back `err`.
async fn failed_log_in(
    state: &AppState,
    attempt: &LogInAttempt<'_>,
    err: DomainError,
) -> DomainError {
    if matches!(err, DomainError::Unauthenticated(_)) {
        let tried = Actor::visitor(attempt.client);
        if let Err(audit_err) =
            audit::record(&state.db, tried, Action::LogInFailed, attempt.login).await
        {
            return audit_err;
        }
    }
    err
}

/// The rate-limit key of a log-in name as typed: the name as the lookup folds it, or its hash
/// when it is too long to be any account's (so keys stay small).
fn login_name_key(login: &str) -> String {
    let name = username_key(login.trim());
    if name.len() <= 320 {
        format!("log_in:name:{name}")
    } else {
        format!("log_in:name-hash:{}", hash_secret(&name))
    }
}

/// Ends every device cookie of `user_id`: after a password change or reset, a browser that
/// logged in with the old password no longer gets guesses past the account's limit.
pub(crate) async fn forget_devices(db: &impl ConnectionTrait, user_id: i64) -> DomainResult<()> {
    login_device::Entity::delete_many()
        .filter(login_device::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(())
}

/// The device row behind a device cookie, when it is `user_id`'s and has not expired.
async fn known_device(
    db: &impl ConnectionTrait,
    token: &str,
    user_id: i64,
    now: DateTime<Utc>,
) -> DomainResult<Option<login_device::Model>> {
    Ok(login_device::Entity::find_by_id(hash_secret(token))
        .one(db)
        .await?
        .filter(|device| device.user_id == user_id && now < device.expires_at))
}

/// Extends the device cookie the browser logged in with, or makes it a new one (dropping
/// the account's expired ones).
async fn remember_device(
    db: &impl ConnectionTrait,
    user: &user::Model,
    known: Option<&str>,
    now: DateTime<Utc>,
) -> DomainResult<DeviceToken> {
    if let Some(token) = known {
        login_device::Entity::update_many()
            .col_expr(login_device::Column::LastUsedAt, now.into())
            .col_expr(
                login_device::Column::ExpiresAt,
                (now + DEVICE_LIFETIME).into(),
            )
            .filter(login_device::Column::IdHash.eq(hash_secret(token)))
            .exec(db)
            .await?;
        return Ok(DeviceToken(token.to_owned()));
    }
    login_device::Entity::delete_many()
        .filter(login_device::Column::UserId.eq(user.id))
        .filter(login_device::Column::ExpiresAt.lte(now))
        .exec(db)
        .await?;
    let token = new_secret("")?;
    login_device::ActiveModel {
        id_hash: Set(hash_secret(&token)),
        user_id: Set(user.id),
        created_at: Set(now),
        last_used_at: Set(now),
        expires_at: Set(now + DEVICE_LIFETIME),
    }
    .insert(db)
    .await?;
    Ok(DeviceToken(token))
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

/// Checks the password a signed-in user typed to confirm a grave change (`what`: counted per
/// account and limited as password changes are, so a stolen session cannot guess it), and
/// answers `wrong` when it is not theirs.
pub(crate) async fn verify_own_password(
    state: &AppState,
    user: &user::Model,
    what: &str,
    password: &str,
    wrong: DomainError,
) -> DomainResult<()> {
    rate_limit::hit(
        &state.db,
        &format!("{what}:account:{}", user.id),
        state.rate_limits.password_change_per_account,
        Utc::now(),
    )
    .await?;
    let stored = user
        .password_hash
        .clone()
        .unwrap_or_else(|| UNKNOWN_USER_HASH.to_owned());
    let verdict = state.passwords.verify(password.to_owned(), stored).await?;
    match verdict {
        Verification::Match { .. } => Ok(()),
        _ => Err(wrong),
    }
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
    let wrong = DomainError::invalid("current_password", "this is not your current password");
    verify_own_password(state, user, "password_change", current_password, wrong).await?;
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
    forget_devices(&txn, user.id).await?;
    // A reset link asked for before the change would undo it.
    recovery::revoke(&txn, user.id, recovery::Purpose::PasswordReset).await?;
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
    turn_on_publishing(db, user, Actor::user(user, ip)).await
}

/// The one rule for turning publishing on, whoever asks: the account's owner on the
/// settings page, or an operator from the command line. Recorded as `actor`'s doing.
async fn turn_on_publishing(
    db: &impl ConnectionTrait,
    user: &user::Model,
    actor: Actor<'_>,
) -> DomainResult<user::Model> {
    if user.is_publisher {
        return Ok(user.clone());
    }
    let mut row: user::ActiveModel = user.clone().into();
    row.is_publisher = Set(true);
    let user = row.update(db).await?;
    audit::record(db, actor, Action::PublishingEnable, &user.username).await?;
    Ok(user)
}

/// What an operator's new account may do beyond a plain account's.
#[derive(Debug, Clone, Copy, Default)]
pub struct OperatorGrants {
    /// A site administrator.
    pub admin: bool,
    /// Publishing turned on, as the account's owner could on the settings page.
    pub publisher: bool,
}

/// Creates an account from the command line (an operator's `bazaar admin create`); the
/// address counts as confirmed and the password rules apply as on the site.
pub async fn create_by_operator(
    state: &AppState,
    new: SignUp<'_>,
    grants: OperatorGrants,
) -> DomainResult<user::Model> {
    let user = sign_up(&state.db, &state.passwords, new).await?;
    let mut row: user::ActiveModel = user.into();
    row.is_admin = Set(grants.admin);
    row.email_verified_at = Set(Some(Utc::now()));
    let user = row.update(&state.db).await?;
    let subject = format!(
        "{}{}",
        user.username,
        if grants.admin { " (admin)" } else { "" }
    );
    audit::record(&state.db, Actor::cli(), Action::AdminCreate, &subject).await?;
    if grants.publisher {
        return turn_on_publishing(&state.db, &user, Actor::cli()).await;
    }
    Ok(user)
}

/// Turns publishing on for an existing account from the command line (`bazaar admin
/// publisher`), by the same rule as the settings page.
pub async fn enable_publishing_by_operator(
    state: &AppState,
    username: &str,
) -> DomainResult<user::Model> {
    let user = crate::catalog::find_user(&state.db, username)
        .await?
        .filter(|user| !user.is_org())
        .ok_or_else(|| {
            DomainError::invalid(
                "username",
                format!("no user account is called '{username}'"),
            )
        })?;
    turn_on_publishing(&state.db, &user, Actor::cli()).await
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
        // Unconfirmed: the right password is told to confirm, a wrong one learns nothing.
        let unconfirmed = log_in(
            &db,
            &hasher,
            &policy,
            "alice",
            "a long enough passphrase",
            "t",
        )
        .await
        .unwrap_err();
        assert!(
            matches!(unconfirmed, DomainError::Unconfirmed { .. }),
            "{unconfirmed:?}"
        );
        let wrong = log_in(&db, &hasher, &policy, "alice", "wrong passphrase!", "t")
            .await
            .unwrap_err();
        assert!(
            matches!(wrong, DomainError::Unauthenticated(_)),
            "{wrong:?}"
        );
        let mut row: user::ActiveModel = user.clone().into();
        row.email_verified_at = Set(Some(Utc::now()));
        row.update(&db).await.unwrap();
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
