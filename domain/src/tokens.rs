//! API tokens: named, scoped (`read`, or `write` which includes read), optionally expiring,
//! shown once and stored hashed. `Authorization: Bearer` with one acts as its owner.
use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder,
};

use crate::audit::{self, Action, Actor};
use crate::entities::{api_token, user};
use crate::error::{DomainError, DomainResult};
use crate::rate_limit;
use crate::secrets::{hash_secret, new_secret};
use crate::state::AppState;

/// Every token starts with this, so secret scanners and people can recognise one.
pub const TOKEN_PREFIX: &str = "bzr_";
/// The longest expiry a token may be given.
pub const MAX_EXPIRY_DAYS: u32 = 365;
/// Use is recorded at most this often, so authenticating stays a read.
const TOUCH_INTERVAL: Duration = Duration::minutes(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Read,
    Write,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
        }
    }

    pub fn parse(raw: &str) -> DomainResult<Self> {
        match raw {
            "read" => Ok(Self::Read),
            "write" => Ok(Self::Write),
            _ => Err(DomainError::invalid("scope", "choose read or write")),
        }
    }

    /// Whether a token with this scope may do what `needed` allows.
    pub fn allows(self, needed: Scope) -> bool {
        self == Scope::Write || needed == Scope::Read
    }
}

pub struct NewToken<'a> {
    pub name: &'a str,
    pub scope: &'a str,
    /// `None`: never expires.
    pub expires_in_days: Option<u32>,
}

/// Creates a token for `owner`, who asked for it; returns it with the secret, which is not
/// kept anywhere.
pub async fn create(
    state: &AppState,
    owner: &user::Model,
    new: NewToken<'_>,
    ip: &str,
) -> DomainResult<(api_token::Model, String)> {
    create_as(state, owner, new, Actor::user(owner, ip)).await
}

/// Creates a token for `owner` from the command line (`bazaar admin token`): the audit log
/// names the operator, not the account, as the one who made it.
pub async fn create_by_operator(
    state: &AppState,
    owner: &user::Model,
    new: NewToken<'_>,
) -> DomainResult<(api_token::Model, String)> {
    create_as(state, owner, new, Actor::cli()).await
}

async fn create_as(
    state: &AppState,
    owner: &user::Model,
    new: NewToken<'_>,
    actor: Actor<'_>,
) -> DomainResult<(api_token::Model, String)> {
    if owner.is_org() {
        return Err(DomainError::invalid(
            "username",
            "tokens belong to people; an organization's members use their own",
        ));
    }
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            "name",
            "give the token a name of 1 to 64 characters",
        ));
    }
    let scope = Scope::parse(new.scope)?;
    if let Some(days) = new.expires_in_days {
        if !(1..=MAX_EXPIRY_DAYS).contains(&days) {
            return Err(DomainError::invalid(
                "expires_in_days",
                format!("choose between 1 and {MAX_EXPIRY_DAYS} days, or no expiry"),
            ));
        }
    }
    let now = Utc::now();
    rate_limit::hit(
        &state.db,
        &format!("token_create:account:{}", owner.id),
        state.rate_limits.token_create_per_account,
        now,
    )
    .await?;
    let secret = new_secret(TOKEN_PREFIX)?;
    let token = api_token::ActiveModel {
        user_id: Set(owner.id),
        name: Set(name.to_owned()),
        token_hash: Set(hash_secret(&secret)),
        scope: Set(scope.as_str().to_owned()),
        created_at: Set(now),
        expires_at: Set(new
            .expires_in_days
            .map(|days| now + Duration::days(days.into()))),
        last_used_at: Set(None),
        ..Default::default()
    }
    .insert(&state.db)
    .await?;
    audit::record(
        &state.db,
        actor,
        Action::TokenCreate,
        &format!(
            "token {} ({name}, {}) of {}",
            token.id,
            scope.as_str(),
            owner.username
        ),
    )
    .await?;
    Ok((token, secret))
}

pub async fn list(db: &impl ConnectionTrait, owner_id: i64) -> DomainResult<Vec<api_token::Model>> {
    Ok(api_token::Entity::find()
        .filter(api_token::Column::UserId.eq(owner_id))
        .order_by_desc(api_token::Column::Id)
        .all(db)
        .await?)
}

/// Deletes one of `owner`'s tokens; it stops working at once. Someone else's token is
/// "not found", so ids reveal nothing.
pub async fn revoke(
    db: &impl ConnectionTrait,
    owner: &user::Model,
    token_id: i64,
    ip: &str,
) -> DomainResult<()> {
    let deleted = api_token::Entity::delete_many()
        .filter(api_token::Column::Id.eq(token_id))
        .filter(api_token::Column::UserId.eq(owner.id))
        .exec(db)
        .await?;
    if deleted.rows_affected == 0 {
        return Err(DomainError::NotFound("token"));
    }
    audit::record(
        db,
        Actor::user(owner, ip),
        Action::TokenRevoke,
        &format!("token {token_id}"),
    )
    .await
}

/// The account and scope behind a presented secret, if it is a live token at `now`.
pub async fn authenticate(
    db: &impl ConnectionTrait,
    secret: &str,
    now: DateTime<Utc>,
) -> DomainResult<Option<(user::Model, api_token::Model)>> {
    if !secret.starts_with(TOKEN_PREFIX) {
        return Ok(None);
    }
    let Some(token) = api_token::Entity::find()
        .filter(api_token::Column::TokenHash.eq(hash_secret(secret)))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    if token.expires_at.is_some_and(|end| now >= end) {
        return Ok(None);
    }
    let Some(owner) = user::Entity::find_by_id(token.user_id).one(db).await? else {
        return Ok(None);
    };
    let token = if token
        .last_used_at
        .is_none_or(|seen| now - seen >= TOUCH_INTERVAL)
    {
        let mut row: api_token::ActiveModel = token.into();
        row.last_used_at = Set(Some(now));
        row.update(db).await?
    } else {
        token
    };
    Ok(Some((owner, token)))
}

impl api_token::Model {
    pub fn scope(&self) -> Scope {
        Scope::parse(&self.scope).unwrap_or(Scope::Read)
    }
}
