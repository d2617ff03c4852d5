//! Deleting one's own account. Everything that let the person in or act as them goes
//! (sessions, API tokens, device cookies, e-mailed links), they leave their organizations,
//! and their models are handed to one of those organizations or hidden. The `users` row stays,
//! anonymised, because other rows (audit entries, later orders and licenses) refer to it; its
//! username and e-mail address are free for anyone to sign up with again.
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    TransactionTrait,
};

use crate::accounts::verify_own_password;
use crate::audit::{self, Action, Actor};
use crate::entities::{
    api_token, login_device, mail_token, membership, model, org_invitation, session, user,
};
use crate::error::{DomainError, DomainResult};
use crate::locks::lock_user;
use crate::names::username_key;
use crate::orgs::{self, Role};
use crate::state::AppState;

/// What a deleted account's username becomes. Usernames never hold "--", so no sign-up or
/// organization can take this name.
const DELETED_PREFIX: &str = "deleted--";

/// Whether `user` is a deleted account.
pub fn is_deleted(user: &user::Model) -> bool {
    user.username.starts_with(DELETED_PREFIX)
}

/// What happens to the models the person owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handover<'a> {
    /// Deleted as a publisher deletes a listing: gone from every page, kept until an admin
    /// purges them.
    Hide,
    /// Given to this organization, which the person owns or administers.
    To(&'a str),
}

/// The deletion as the person asked for it.
pub struct Deletion<'a> {
    pub password: &'a str,
    /// The username typed again, so nobody deletes an account by a slip.
    pub confirm: &'a str,
    pub models: Handover<'a>,
}

/// What the settings page offers before deleting: how many models the person owns, and the
/// organizations they could hand them to.
pub struct Choices {
    pub models: u64,
    pub orgs: Vec<(user::Model, Role)>,
}

pub async fn choices(db: &impl ConnectionTrait, user: &user::Model) -> DomainResult<Choices> {
    let models = own_models(db, user.id).await?.len() as u64;
    let orgs = orgs::orgs_of(db, user.id)
        .await?
        .into_iter()
        .filter(|(_, role)| *role >= Role::Admin)
        .collect();
    Ok(Choices { models, orgs })
}

/// The person's listings that are not deleted already.
async fn own_models(db: &impl ConnectionTrait, user_id: i64) -> DomainResult<Vec<model::Model>> {
    Ok(model::Entity::find()
        .filter(model::Column::OwnerId.eq(user_id))
        .filter(model::Column::DeletedAt.is_null())
        .all(db)
        .await?)
}

/// Deletes `user`'s account, all of it or (on any refusal) nothing.
pub async fn delete_account(
    state: &AppState,
    user: &user::Model,
    request: Deletion<'_>,
    ip: &str,
) -> DomainResult<()> {
    if user.is_org() || is_deleted(user) {
        return Err(DomainError::Forbidden(
            "only a person's own account can be deleted".into(),
        ));
    }
    if username_key(request.confirm.trim()) != user.username_key {
        return Err(DomainError::invalid(
            "confirm",
            format!("type your username, {}, to confirm", user.username),
        ));
    }
    let wrong = DomainError::invalid("password", "this is not your password");
    verify_own_password(state, user, "account_delete", request.password, wrong).await?;

    let txn = state.db.begin().await?;
    // The account's row first: a write, so SQLite takes its lock before anything is read.
    let user = lock_user(&txn, user.id).await?;
    ensure_orgs_keep_an_owner(&txn, &user).await?;
    let models = own_models(&txn, user.id).await?;
    let fate = match request.models {
        Handover::To(name) => {
            let org = hand_over(&txn, &user, &models, name).await?;
            format!("{} models handed to {}", models.len(), org.username)
        }
        Handover::Hide => {
            hide(&txn, &models).await?;
            format!("{} models hidden", models.len())
        }
    };
    forget_everything(&txn, user.id).await?;
    let subject = format!("{} ({fate})", user.username);
    audit::record(
        &txn,
        Actor::user(&user, ip),
        Action::AccountDelete,
        &subject,
    )
    .await?;
    let picture = user.avatar_key.clone();
    anonymise(&txn, user).await?;
    txn.commit().await?;
    // Nothing refers to the picture any more, so it is never served again; its bytes go too.
    if let Some(key) = picture {
        if let Err(e) = state.storage.delete(&key).await {
            tracing::warn!(%key, error = %e, "deleting a deleted account's picture");
        }
    }
    Ok(())
}

/// Refuses, naming it, to leave an organization the person is the only owner of: it would be
/// left with nobody to manage it.
async fn ensure_orgs_keep_an_owner(
    db: &impl ConnectionTrait,
    user: &user::Model,
) -> DomainResult<()> {
    for (org, role) in orgs::orgs_of(db, user.id).await? {
        if role == Role::Owner {
            lock_user(db, org.id).await?;
            orgs::ensure_another_owner(db, org.id, user.id)
                .await
                .map_err(|_| {
                    DomainError::Conflict(format!(
                        "you are the only owner of {}; make someone else owner first",
                        org.username
                    ))
                })?;
        }
    }
    Ok(())
}

/// Gives `models` to the organization `name`, which `user` must own or administer; refuses,
/// naming it, a model whose name the organization already uses.
async fn hand_over(
    db: &impl ConnectionTrait,
    user: &user::Model,
    models: &[model::Model],
    name: &str,
) -> DomainResult<user::Model> {
    let not_yours =
        || DomainError::invalid("hand_to", "choose an organization you own or administer");
    let org = orgs::find(db, name).await.map_err(|_| not_yours())?;
    let managed = membership::Entity::find_by_id((org.id, user.id))
        .one(db)
        .await?
        .is_some_and(|m| Role::parse(&m.role).is_ok_and(|role| role >= Role::Admin));
    if !managed {
        return Err(not_yours());
    }
    for listing in models {
        let taken = model::Entity::find()
            .filter(model::Column::OwnerId.eq(org.id))
            .filter(model::Column::Slug.eq(&listing.slug))
            .one(db)
            .await?;
        if taken.is_some() {
            return Err(DomainError::invalid(
                "hand_to",
                format!(
                    "{} already has a model called {}; rename or delete yours first",
                    org.username, listing.slug
                ),
            ));
        }
    }
    model::Entity::update_many()
        .col_expr(model::Column::OwnerId, org.id.into())
        .col_expr(model::Column::UpdatedAt, Utc::now().into())
        .filter(model::Column::Id.is_in(models.iter().map(|m| m.id)))
        .exec(db)
        .await?;
    Ok(org)
}

/// Soft-deletes `models`, as `listings::delete` does one.
async fn hide(db: &impl ConnectionTrait, models: &[model::Model]) -> DomainResult<()> {
    model::Entity::update_many()
        .col_expr(model::Column::DeletedAt, Some(Utc::now()).into())
        .col_expr(model::Column::IsPublished, false.into())
        .filter(model::Column::Id.is_in(models.iter().map(|m| m.id)))
        .exec(db)
        .await?;
    Ok(())
}

/// Ends every way in (sessions, API tokens, device cookies, e-mailed links) and every tie to
/// an organization (memberships, invitations waiting for the person).
async fn forget_everything(db: &impl ConnectionTrait, user_id: i64) -> DomainResult<()> {
    membership::Entity::delete_many()
        .filter(membership::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    session::Entity::delete_many()
        .filter(session::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    api_token::Entity::delete_many()
        .filter(api_token::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    login_device::Entity::delete_many()
        .filter(login_device::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    mail_token::Entity::delete_many()
        .filter(mail_token::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    org_invitation::Entity::delete_many()
        .filter(org_invitation::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Keeps the row (other rows refer to it) with nothing left that names or reaches the person.
async fn anonymise(db: &impl ConnectionTrait, user: user::Model) -> DomainResult<()> {
    let name = format!("{DELETED_PREFIX}{}", user.id);
    let mut row: user::ActiveModel = user.into();
    row.username_key = Set(username_key(&name));
    row.username = Set(name);
    row.email = Set(None);
    row.email_verified_at = Set(None);
    row.password_hash = Set(None);
    row.display_name = Set("Deleted user".to_owned());
    row.bio = Set(String::new());
    row.links = Set(String::new());
    row.avatar_key = Set(None);
    row.is_publisher = Set(false);
    row.is_admin = Set(false);
    row.update(db).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_one_can_take_a_deleted_accounts_name() {
        let name = format!("{DELETED_PREFIX}42");
        assert!(crate::names::check_username(&name).is_err(), "{name}");
        assert!(crate::names::check_username("deleted-42").is_ok());
    }
}
