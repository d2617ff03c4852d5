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
    SignUp,
    SignUpAddressTaken,
    EmailVerified,
    SessionRevoke,
    OtherSessionsEnd,
    TokenCreate,
    TokenRevoke,
    PublishingEnable,
    OrgCreate,
    MemberInvite,
    InvitationAccept,
    InvitationDecline,
    InvitationCancel,
    RoleChange,
    MemberRemove,
    AdminCreate,
    ListingPurge,
    ListingDelete,
    ListingRestore,
    DraftFileRemove,
    ProfileUpdate,
    AccountDelete,
    OrderRefund,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LogIn => "log_in",
            Self::LogInFailed => "log_in_failed",
            Self::PasswordChange => "password_change",
            Self::PasswordResetRequest => "password_reset_request",
            Self::PasswordReset => "password_reset",
            Self::SignUp => "sign_up",
            Self::SignUpAddressTaken => "sign_up_address_taken",
            Self::EmailVerified => "email_verified",
            Self::SessionRevoke => "session_revoke",
            Self::OtherSessionsEnd => "other_sessions_end",
            Self::TokenCreate => "token_create",
            Self::TokenRevoke => "token_revoke",
            Self::PublishingEnable => "publishing_enable",
            Self::OrgCreate => "org_create",
            Self::MemberInvite => "member_invite",
            Self::InvitationAccept => "invitation_accept",
            Self::InvitationDecline => "invitation_decline",
            Self::InvitationCancel => "invitation_cancel",
            Self::RoleChange => "role_change",
            Self::MemberRemove => "member_remove",
            Self::AdminCreate => "admin_create",
            Self::ListingPurge => "listing_purge",
            Self::ListingDelete => "listing_delete",
            Self::ListingRestore => "listing_restore",
            Self::DraftFileRemove => "draft_file_remove",
            Self::ProfileUpdate => "profile_update",
            Self::AccountDelete => "account_delete",
            Self::OrderRefund => "order_refund",
        }
    }
}

/// In what capacity an actor acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    /// A logged-in user (or one proven by an e-mailed link) acting on their own account.
    User,
    /// A site administrator acting with admin rights.
    Admin,
    /// Someone not logged in: a sign-up, a failed log-in, a reset request.
    Visitor,
    /// The operator, on the command line.
    Cli,
    /// The server itself (periodic jobs).
    System,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Admin => "admin",
            Self::Visitor => "visitor",
            Self::Cli => "cli",
            Self::System => "system",
        }
    }
}

/// Who acted. A visitor has no account; what they typed belongs in the subject.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    pub kind: ActorKind,
    pub id: Option<i64>,
    pub name: &'a str,
    pub ip: &'a str,
}

impl<'a> Actor<'a> {
    pub fn user(user: &'a user::Model, ip: &'a str) -> Self {
        Self {
            kind: ActorKind::User,
            id: Some(user.id),
            name: &user.username,
            ip,
        }
    }

    /// `admin` using admin rights; callers check them first.
    pub fn admin(admin: &'a user::Model, ip: &'a str) -> Self {
        Self {
            kind: ActorKind::Admin,
            ..Self::user(admin, ip)
        }
    }

    pub fn visitor(ip: &'a str) -> Self {
        Self {
            kind: ActorKind::Visitor,
            id: None,
            name: "anonymous",
            ip,
        }
    }

    /// The operator running a `bazaar admin` command.
    pub fn cli() -> Self {
        Self {
            kind: ActorKind::Cli,
            id: None,
            name: "operator",
            ip: "cli",
        }
    }

    pub fn system() -> Self {
        Self {
            kind: ActorKind::System,
            id: None,
            name: "bazaar",
            ip: "",
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
        actor_kind: Set(actor.kind.as_str().to_owned()),
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
