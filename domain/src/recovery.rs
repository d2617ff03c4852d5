//! E-mailed single-use links: password reset and address confirmation. Only the SHA-256 of
//! a link's token is stored; an account has at most one live link per purpose (asking again
//! replaces it, and the database's unique index guards that), using it deletes it, a
//! password change or reset ends any reset link, and it expires if unused. The outbox keeps
//! each message with its token redacted (see `mail`).
use chrono::{Duration, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult,
    QueryFilter, QueryTrait, TransactionTrait,
};

use crate::accounts::end_all_sessions;
use crate::audit::{self, Action, Actor};
use crate::entities::{mail_token, user};
use crate::error::{DomainError, DomainResult};
use crate::mail::Mail;
use crate::passwords::check_new_password;
use crate::rate_limit::{self, Limit};
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

/// A new link's token for `user_id`. It replaces the account's earlier link of the same
/// purpose in one upsert, so of two requests only the newer link works, however close.
async fn issue(db: &impl ConnectionTrait, user_id: i64, purpose: Purpose) -> DomainResult<String> {
    let token = new_secret("")?;
    let now = Utc::now();
    let row = mail_token::ActiveModel {
        token_hash: Set(hash_secret(&token)),
        user_id: Set(user_id),
        purpose: Set(purpose.as_str().to_owned()),
        created_at: Set(now),
        expires_at: Set(now + purpose.lifetime()),
    };
    mail_token::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([mail_token::Column::UserId, mail_token::Column::Purpose])
                .update_columns([
                    mail_token::Column::TokenHash,
                    mail_token::Column::CreatedAt,
                    mail_token::Column::ExpiresAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(token)
}

/// Ends every live link of `user_id` for `purpose` (a password change ends reset links).
pub async fn revoke(
    db: &impl ConnectionTrait,
    user_id: i64,
    purpose: Purpose,
) -> DomainResult<u64> {
    let deleted = mail_token::Entity::delete_many()
        .filter(mail_token::Column::UserId.eq(user_id))
        .filter(mail_token::Column::Purpose.eq(purpose.as_str()))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected)
}

/// Spends a token: the user it was issued to, or an error naming `field` when it is
/// unknown, used, expired, or for another purpose. Deleting it is the spending, so two
/// concurrent uses cannot both succeed. The delete is the transaction's first statement: on
/// SQLite a transaction that reads before it writes fails with "database is locked" when
/// another connection writes in between.
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
    let mut delete = mail_token::Entity::delete_many()
        .filter(mail_token::Column::TokenHash.eq(hash_secret(token.trim())))
        .filter(mail_token::Column::Purpose.eq(purpose.as_str()))
        .into_query();
    // Built by hand: sea-orm only asks SQLite for RETURNING behind a feature flag.
    delete.returning_all();
    let row = match db.query_one(&delete).await? {
        Some(row) => mail_token::Model::from_query_result(&row, "")?,
        None => return Err(invalid()),
    };
    if Utc::now() >= row.expires_at {
        return Err(invalid());
    }
    user::Entity::find_by_id(row.user_id)
        .one(db)
        .await?
        .ok_or_else(invalid)
}

/// Sends a reset link when `email` belongs to an account. The answer is the same either
/// way, so the form does not reveal who has an account. The link replaces any earlier one.
pub async fn request_password_reset(state: &AppState, email: &str, ip: &str) -> DomainResult<()> {
    let email = crate::accounts::normalize_email(email)?;
    let now = Utc::now();
    rate_limit::hit(
        &state.db,
        &rate_limit::ip_key("password_reset", ip),
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
         Open this link within an hour to choose a new one; it works once, and only the newest\n\
         link you asked for works:\n\n{link}\n\n\
         If you did not ask for this, ignore this message; your password stays as it is.\n",
        user.username
    );
    let mail = Mail::new(&email, "Reset your Bazaar password", body).with_secret(&token);
    state.mailer.send(&state.db, mail).await?;
    // Whoever asked is not known to be the account's owner: a visitor asked for it.
    audit::record(
        &state.db,
        Actor::visitor(ip),
        Action::PasswordResetRequest,
        &user.username,
    )
    .await
}

/// Sets a new password through a reset link and ends every session of the account. The
/// link proves the address, so an unconfirmed one counts as confirmed from then on. A
/// refused password leaves the link usable; the hash is computed before the transaction so
/// the database is not held during it.
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
    let confirmed = user.email_verified_at.is_some();
    let mut row: user::ActiveModel = user.into();
    row.password_hash = Set(Some(hash));
    if !confirmed {
        row.email_verified_at = Set(Some(Utc::now()));
    }
    let user = row.update(&txn).await?;
    end_all_sessions(&txn, user.id).await?;
    crate::accounts::forget_devices(&txn, user.id).await?;
    revoke(&txn, user.id, Purpose::PasswordReset).await?;
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

/// E-mails `user` a link that confirms their address (replacing any earlier one) and
/// returns its token.
pub async fn send_verification(state: &AppState, user: &user::Model) -> DomainResult<String> {
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
        "Welcome to Bazaar, {}!\n\nConfirm your e-mail address to finish creating your account\n\
         by opening this link within two days; it works once:\n\n{link}\n\n\
         If you did not sign up for Bazaar, ignore this message.\n",
        user.username
    );
    let mail = Mail::new(email, "Confirm your e-mail address", body).with_secret(&token);
    state.mailer.send(&state.db, mail).await?;
    Ok(token)
}

/// Tells the owner of `owner`'s address that someone signed up with it. The sign-up itself
/// answers as any other, so the form does not reveal which addresses have accounts. An
/// owner who never confirmed gets a new confirmation link in the same message.
pub async fn tell_owner_of_sign_up(state: &AppState, owner: &user::Model) -> DomainResult<()> {
    let Some(email) = owner.email.as_deref() else {
        return Ok(());
    };
    let base = &state.public_url;
    let mut body = format!(
        "Hello {},\n\nSomeone (perhaps you) just tried to create a Bazaar account with this e-mail\n\
         address. It already belongs to your account, {}, so no new account was made.\n\n",
        owner.username, owner.username
    );
    let mut mail_token = None;
    // An unconfirmed account may have been made by someone else with this address, and
    // their password: confirming it as it is would hand its owner an account a stranger can
    // log in to. Finishing it means choosing a password, which also confirms the address.
    if owner.email_verified_at.is_none() {
        let token = issue(&state.db, owner.id, Purpose::PasswordReset).await?;
        body.push_str(&format!(
            "Your account is not confirmed yet. To finish creating it, choose its password at\n\
             this link within an hour; it works once:\n\n{base}/reset-password/{token}\n\n"
        ));
        mail_token = Some(token);
    }
    body.push_str(&format!(
        "To use it, log in at {base}/login; if you forgot your password, choose a new one at\n\
         {base}/forgot-password. If this was not you, ignore this message: nothing changed.\n"
    ));
    let mut mail = Mail::new(email, "Someone tried to sign up with your address", body);
    if let Some(token) = &mail_token {
        mail = mail.with_secret(token);
    }
    state.mailer.send(&state.db, mail).await?;
    Ok(())
}

/// How often a log-in to an unconfirmed account sends the confirmation link again.
const RESEND_LIMIT: Limit = Limit {
    max: 3,
    window: Duration::hours(1),
};

/// Refuses an account whose address is not confirmed yet, e-mailing it a new link (a few
/// times an hour at most). Called only after the right password, so the answer tells
/// nothing to someone who does not know it.
pub async fn require_confirmed(state: &AppState, user: &user::Model) -> DomainResult<()> {
    if user.email.is_none() || user.email_verified_at.is_some() {
        return Ok(());
    }
    let key = format!("verify_resend:account:{}", user.id);
    let resent = match rate_limit::hit(&state.db, &key, RESEND_LIMIT, Utc::now()).await {
        Ok(_) => {
            send_verification(state, user).await?;
            true
        }
        Err(DomainError::RateLimited { .. }) => false,
        Err(other) => return Err(other),
    };
    Err(DomainError::Unconfirmed { resent })
}

/// Confirms the address a link was sent to.
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
