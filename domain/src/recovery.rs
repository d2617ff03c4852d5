//! E-mailed single-use links: password reset and address verification. Only the SHA-256 of
//! a link's token is stored; using it deletes it, and it expires if unused.
use chrono::{Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    TransactionTrait,
};

use crate::accounts::end_all_sessions;
use crate::audit::{self, Action, Actor};
use crate::entities::{mail_token, user};
use crate::error::{DomainError, DomainResult};
use crate::passwords::check_new_password;
use crate::rate_limit;
use crate::secrets::{hash_secret, new_secret};
use crate::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    PasswordReset,
    VerifyEmail,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::PasswordReset => "password_reset",
            Self::VerifyEmail => "verify_email",
        }
    }

    fn lifetime(self) -> Duration {
        match self {
            Self::PasswordReset => Duration::hours(1),
            Self::VerifyEmail => Duration::days(2),
        }
    }
}

async fn issue(db: &impl ConnectionTrait, user_id: i64, purpose: Purpose) -> DomainResult<String> {
    let token = new_secret("")?;
    let now = Utc::now();
    mail_token::ActiveModel {
        token_hash: Set(hash_secret(&token)),
        user_id: Set(user_id),
        purpose: Set(purpose.as_str().to_owned()),
        created_at: Set(now),
        expires_at: Set(now + purpose.lifetime()),
    }
    .insert(db)
    .await?;
    Ok(token)
}

/// Spends a token: the user it was issued to, or an error naming `field` when it is
/// unknown, used, expired, or for another purpose. Deleting it is the spending, so two
/// concurrent uses cannot both succeed.
async fn redeem(
    db: &impl ConnectionTrait,
    token: &str,
    purpose: Purpose,
) -> DomainResult<user::Model> {
    let invalid = || {
        DomainError::invalid(
            "token",
            "this link is invalid, already used or expired; ask for a new one",
        )
    };
    let hash = hash_secret(token.trim());
    let row = mail_token::Entity::find_by_id(hash.clone())
        .one(db)
        .await?
        .filter(|row| row.purpose == purpose.as_str())
        .ok_or_else(invalid)?;
    let deleted = mail_token::Entity::delete_by_id(hash).exec(db).await?;
    if deleted.rows_affected != 1 || Utc::now() >= row.expires_at {
        return Err(invalid());
    }
    user::Entity::find_by_id(row.user_id)
        .one(db)
        .await?
        .ok_or_else(invalid)
}

/// Sends a reset link when `email` belongs to an account. The answer is the same either
/// way, so the form does not reveal who has an account.
pub async fn request_password_reset(state: &AppState, email: &str, ip: &str) -> DomainResult<()> {
    let email = crate::accounts::normalize_email(email)?;
    let now = Utc::now();
    rate_limit::hit(
        &state.db,
        &format!("password_reset:ip:{ip}"),
        state.rate_limits.password_reset_per_ip,
        now,
    )
    .await?;
    let Some(user) = user::Entity::find()
        .filter(user::Column::Email.eq(&email))
        .one(&state.db)
        .await?
    else {
        return Ok(());
    };
    let token = issue(&state.db, user.id, Purpose::PasswordReset).await?;
    let link = format!("{}/reset-password/{token}", state.public_url);
    let body = format!(
        "Hello {},\n\nSomeone (hopefully you) asked to reset the password of your Bazaar account.\n\
         Open this link within an hour to choose a new one; it works once:\n\n{link}\n\n\
         If you did not ask for this, ignore this message; your password stays as it is.\n",
        user.username
    );
    state
        .mailer
        .send(&state.db, &email, "Reset your Bazaar password", body)
        .await?;
    audit::record(
        &state.db,
        Actor::user(&user, ip),
        Action::PasswordResetRequest,
        &user.username,
    )
    .await
}

/// Sets a new password through a reset link and ends every session of the account.
/// A refused password leaves the link usable; the hash is computed before the transaction
/// so the database is not held during it.
pub async fn reset_password(
    state: &AppState,
    token: &str,
    new_password: &str,
    ip: &str,
) -> DomainResult<user::Model> {
    let holder = {
        let txn = state.db.begin().await?;
        let user = redeem(&txn, token, Purpose::PasswordReset).await?;
        txn.rollback().await?;
        user
    };
    check_new_password(new_password, &holder.username)?;
    let hash = state.passwords.hash(new_password.to_owned()).await?;
    let txn = state.db.begin().await?;
    let user = redeem(&txn, token, Purpose::PasswordReset).await?;
    if user.id != holder.id {
        return Err(DomainError::Internal("reset token changed hands".into()));
    }
    let mut row: user::ActiveModel = user.into();
    row.password_hash = Set(Some(hash));
    let user = row.update(&txn).await?;
    end_all_sessions(&txn, user.id).await?;
    audit::record(
        &txn,
        Actor::user(&user, ip),
        Action::PasswordReset,
        &user.username,
    )
    .await?;
    txn.commit().await?;
    Ok(user)
}

/// E-mails `user` a link that confirms their address.
pub async fn send_verification(state: &AppState, user: &user::Model) -> DomainResult<()> {
    let Some(email) = user.email.as_deref() else {
        return Err(DomainError::invalid(
            "email",
            "this account has no e-mail address",
        ));
    };
    if user.email_verified_at.is_some() {
        return Err(DomainError::invalid(
            "email",
            "this address is already confirmed",
        ));
    }
    let token = issue(&state.db, user.id, Purpose::VerifyEmail).await?;
    let link = format!("{}/verify-email/{token}", state.public_url);
    let body = format!(
        "Welcome to Bazaar, {}!\n\nConfirm your e-mail address by opening this link within two days:\n\n{link}\n",
        user.username
    );
    state
        .mailer
        .send(&state.db, email, "Confirm your e-mail address", body)
        .await?;
    Ok(())
}

pub async fn verify_email(state: &AppState, token: &str, ip: &str) -> DomainResult<user::Model> {
    let txn = state.db.begin().await?;
    let user = redeem(&txn, token, Purpose::VerifyEmail).await?;
    let mut row: user::ActiveModel = user.into();
    row.email_verified_at = Set(Some(Utc::now()));
    let user = row.update(&txn).await?;
    audit::record(
        &txn,
        Actor::user(&user, ip),
        Action::EmailVerified,
        &user.username,
    )
    .await?;
    txn.commit().await?;
    Ok(user)
}
