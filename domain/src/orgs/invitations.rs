//! Invitations: how a person joins an organization. An owner or admin invites them with a
//! role and they are e-mailed; they accept (and become a member with that role) or decline;
//! a manager may cancel it meanwhile. Until they accept they are not a member at all.
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, QueryFilter, QueryOrder, TransactionTrait,
};

use super::{find_person, insert_membership, permissions, role_of, Role};
use crate::audit::{self, Action, Actor};
use crate::entities::{org_invitation, user};
use crate::error::{DomainError, DomainResult};
use crate::locks::lock_user;
use crate::mail::Mail;
use crate::state::AppState;

/// An invitation as the pages list it.
#[derive(Debug, Clone)]
pub struct Invitation {
    pub org: user::Model,
    /// The person invited.
    pub person: user::Model,
    pub role: Role,
    /// The username of who invited them.
    pub invited_by: String,
    pub created_at: DateTime<Utc>,
}

/// Invites `username` to join as `role`, and e-mails them. Owners and admins invite; only
/// owners invite admins or owners. Refuses a member, or someone already invited, by name.
pub async fn invite(
    state: &AppState,
    actor: &user::Model,
    org: &user::Model,
    username: &str,
    role: Role,
    ip: &str,
) -> DomainResult<user::Model> {
    let may = permissions(&state.db, org, actor).await?;
    if !may.may_invite() {
        return Err(may.refusal(Role::Admin));
    }
    if !may.may_grant(role) {
        return Err(DomainError::Forbidden(
            "only an owner can invite admins or owners".into(),
        ));
    }
    let person = find_person(&state.db, username).await?;
    let txn = state.db.begin().await?;
    // Invitations and acceptances of one organization take turns, so the checks below see
    // every membership and invitation made before.
    lock_user(&txn, org.id).await?;
    if role_of(&txn, org.id, person.id).await?.is_some() {
        return Err(DomainError::invalid(
            "username",
            format!("'{}' is already a member", person.username),
        ));
    }
    let already = org_invitation::Entity::find_by_id((org.id, person.id))
        .one(&txn)
        .await?;
    if already.is_some() {
        return Err(DomainError::invalid(
            "username",
            format!("'{}' is already invited", person.username),
        ));
    }
    org_invitation::ActiveModel {
        org_id: Set(org.id),
        user_id: Set(person.id),
        role: Set(role.as_str().to_owned()),
        invited_by: Set(actor.id),
        created_at: Set(Utc::now()),
    }
    .insert(&txn)
    .await?;
    let subject = format!(
        "{} to {} as {}",
        person.username,
        org.username,
        role.as_str()
    );
    audit::record(&txn, Actor::user(actor, ip), Action::MemberInvite, &subject).await?;
    txn.commit().await?;
    tell_invitee(state, actor, org, &person, role).await?;
    Ok(person)
}

async fn tell_invitee(
    state: &AppState,
    actor: &user::Model,
    org: &user::Model,
    person: &user::Model,
    role: Role,
) -> DomainResult<()> {
    let Some(email) = person.email.as_deref() else {
        return Ok(());
    };
    let body = format!(
        "Hello {},\n\n{} invited you to join the organization {} (@{}) on Bazaar as {}.\n\n\
         Accept or decline the invitation at {}/settings/organizations\n\n\
         Until you accept, you are not a member. If you do not want to join, decline it or\n\
         ignore this message.\n",
        person.username,
        actor.username,
        org.display_name,
        org.username,
        role.as_str(),
        state.public_url
    );
    let subject = format!(
        "{} invited you to join {}",
        actor.username, org.display_name
    );
    state
        .mailer
        .send(&state.db, Mail::new(email, &subject, body))
        .await?;
    Ok(())
}

/// The invitations waiting for `user`'s answer, oldest first.
pub async fn pending_invitations_of(
    db: &impl ConnectionTrait,
    user: &user::Model,
) -> DomainResult<Vec<Invitation>> {
    let rows = org_invitation::Entity::find()
        .filter(org_invitation::Column::UserId.eq(user.id))
        .order_by_asc(org_invitation::Column::CreatedAt)
        .all(db)
        .await?;
    described(db, rows).await
}

/// The organization's pending invitations, for its owners and admins.
pub async fn invitations(
    db: &impl ConnectionTrait,
    actor: &user::Model,
    org: &user::Model,
) -> DomainResult<Vec<Invitation>> {
    let may = permissions(db, org, actor).await?;
    if !may.may_invite() {
        return Err(may.refusal(Role::Admin));
    }
    let rows = org_invitation::Entity::find()
        .filter(org_invitation::Column::OrgId.eq(org.id))
        .order_by_asc(org_invitation::Column::CreatedAt)
        .all(db)
        .await?;
    described(db, rows).await
}

async fn described(
    db: &impl ConnectionTrait,
    rows: Vec<org_invitation::Model>,
) -> DomainResult<Vec<Invitation>> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let find = |id: i64| user::Entity::find_by_id(id).one(db);
        let (Some(org), Some(person), Some(inviter)) = (
            find(row.org_id).await?,
            find(row.user_id).await?,
            find(row.invited_by).await?,
        ) else {
            continue;
        };
        out.push(Invitation {
            org,
            person,
            role: Role::parse(&row.role)?,
            invited_by: inviter.username,
            created_at: row.created_at,
        });
    }
    Ok(out)
}

/// `user` accepts their invitation: they become a member with the invited role, and the
/// invitation is gone, both or neither.
pub async fn accept(
    db: &DatabaseConnection,
    user: &user::Model,
    org: &user::Model,
    ip: &str,
) -> DomainResult<Role> {
    let txn = db.begin().await?;
    lock_user(&txn, org.id).await?;
    let invitation = org_invitation::Entity::find_by_id((org.id, user.id))
        .one(&txn)
        .await?
        .ok_or(DomainError::NotFound("invitation"))?;
    let role = Role::parse(&invitation.role)?;
    org_invitation::Entity::delete_by_id((org.id, user.id))
        .exec(&txn)
        .await?;
    insert_membership(&txn, org.id, user.id, role).await?;
    let subject = format!("{} as {}", org.username, role.as_str());
    audit::record(
        &txn,
        Actor::user(user, ip),
        Action::InvitationAccept,
        &subject,
    )
    .await?;
    txn.commit().await?;
    Ok(role)
}

/// `user` declines their invitation: it is gone, and nothing else changes.
pub async fn decline(
    db: &DatabaseConnection,
    user: &user::Model,
    org: &user::Model,
    ip: &str,
) -> DomainResult<()> {
    let txn = db.begin().await?;
    let deleted = org_invitation::Entity::delete_by_id((org.id, user.id))
        .exec(&txn)
        .await?;
    if deleted.rows_affected == 0 {
        return Err(DomainError::NotFound("invitation"));
    }
    let actor = Actor::user(user, ip);
    audit::record(&txn, actor, Action::InvitationDecline, &org.username).await?;
    txn.commit().await?;
    Ok(())
}

/// A manager withdraws the invitation of `username`: owners any, admins those to the plain
/// member's role.
pub async fn cancel(
    db: &DatabaseConnection,
    actor: &user::Model,
    org: &user::Model,
    username: &str,
    ip: &str,
) -> DomainResult<()> {
    let may = permissions(db, org, actor).await?;
    if !may.may_invite() {
        return Err(may.refusal(Role::Admin));
    }
    let person = find_person(db, username).await?;
    let txn = db.begin().await?;
    lock_user(&txn, org.id).await?;
    let invitation = org_invitation::Entity::find_by_id((org.id, person.id))
        .one(&txn)
        .await?
        .ok_or(DomainError::NotFound("invitation"))?;
    if !may.may_remove(Role::parse(&invitation.role)?) {
        return Err(may.refusal(Role::Owner));
    }
    org_invitation::Entity::delete_by_id((org.id, person.id))
        .exec(&txn)
        .await?;
    let subject = format!("{} to {}", person.username, org.username);
    audit::record(
        &txn,
        Actor::user(actor, ip),
        Action::InvitationCancel,
        &subject,
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
