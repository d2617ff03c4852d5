//! The audit log: who did what to whose account, and from where. Written next to the change
//! it records; read by admins only.
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ConnectionTrait, EntityTrait, QueryOrder, QuerySelect,
};

use crate::entities::{audit_entry, user};
use crate::error::{DomainError, DomainResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    LogIn,
    LogInFailed,
    PasswordChange,
    PasswordResetRequest,
    PasswordReset,
    EmailVerified,
    SessionRevoke,
    OtherSessionsEnd,
    TokenCreate,
    TokenRevoke,
    PublishingEnable,
    OrgCreate,
    MemberAdd,
    RoleChange,
    MemberRemove,
    AdminCreate,
    ListingPurge,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LogIn => "log_in",
            Self::LogInFailed => "log_in_failed",
            Self::PasswordChange => "password_change",
            Self::PasswordResetRequest => "password_reset_request",
            Self::PasswordReset => "password_reset",
            Self::EmailVerified => "email_verified",
            Self::SessionRevoke => "session_revoke",
            Self::OtherSessionsEnd => "other_sessions_end",
            Self::TokenCreate => "token_create",
            Self::TokenRevoke => "token_revoke",
            Self::PublishingEnable => "publishing_enable",
            Self::OrgCreate => "org_create",
            Self::MemberAdd => "member_add",
            Self::RoleChange => "role_change",
            Self::MemberRemove => "member_remove",
            Self::AdminCreate => "admin_create",
            Self::ListingPurge => "listing_purge",
        }
    }
}

/// Who acted: an account, or (for a failed log-in) only the name that was tried.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    pub id: Option<i64>,
    pub name: &'a str,
    pub ip: &'a str,
}

impl<'a> Actor<'a> {
    pub fn user(user: &'a user::Model, ip: &'a str) -> Self {
        Self {
            id: Some(user.id),
            name: &user.username,
            ip,
        }
    }
}

pub async fn record(
    db: &impl ConnectionTrait,
    actor: Actor<'_>,
    action: Action,
    subject: &str,
) -> DomainResult<()> {
    audit_entry::ActiveModel {
        at: Set(Utc::now()),
        actor_id: Set(actor.id),
        actor_name: Set(actor.name.chars().take(64).collect()),
        action: Set(action.as_str().to_owned()),
        subject: Set(subject.chars().take(200).collect()),
        ip: Set(actor.ip.chars().take(64).collect()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The newest entries first, `limit` of them, older than entry `before` when given.
pub async fn recent(
    db: &impl ConnectionTrait,
    viewer: &user::Model,
    before: Option<i64>,
    limit: u64,
) -> DomainResult<Vec<audit_entry::Model>> {
    require_admin(viewer)?;
    let mut query = audit_entry::Entity::find().order_by_desc(audit_entry::Column::Id);
    if let Some(before) = before {
        use sea_orm::{ColumnTrait, QueryFilter};
        query = query.filter(audit_entry::Column::Id.lt(before));
    }
    Ok(query.limit(limit.min(500)).all(db).await?)
}

/// Site administration is for admins; everyone else is refused.
pub fn require_admin(viewer: &user::Model) -> DomainResult<()> {
    if viewer.is_admin {
        Ok(())
    } else {
        Err(DomainError::Forbidden(
            "only administrators can do this".into(),
        ))
    }
}
