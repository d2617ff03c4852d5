//! The signed-in user's own account: overview, sessions, API tokens, publishing.
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use super::request::{client_ip, signed_in, when};
#[cfg(feature = "ssr")]
use crate::error::respond;
use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::wire::OrgRow;
use crate::wire::{AccountOverview, CreatedToken, OrgsOverview, SessionRow, TokenRow};

#[server(endpoint = "get_account")]
pub async fn get_account() -> Result<AccountOverview, AppError> {
    let state = expect_context::<domain::AppState>();
    let user = signed_in()?.user;
    let choices = respond(domain::account_deletion::choices(&state.db, &user).await)?;
    Ok(AccountOverview {
        avatar_url: domain::profiles::picture_url(&user),
        links: domain::profiles::links(&user),
        display_name: user.display_name,
        bio: user.bio,
        username: user.username,
        email: user.email,
        email_verified: user.email_verified_at.is_some(),
        is_publisher: user.is_publisher,
        is_admin: user.is_admin,
        owned_models: choices.models,
        managed_orgs: choices.orgs.into_iter().map(org_row).collect(),
    })
}

#[cfg(feature = "ssr")]
fn org_row((org, role): (domain::entities::user::Model, domain::orgs::Role)) -> OrgRow {
    OrgRow {
        name: org.username,
        display_name: org.display_name,
        role: role.as_str().to_owned(),
    }
}

#[server(endpoint = "enable_publishing")]
pub async fn enable_publishing() -> Result<(), AppError> {
    let state = expect_context::<domain::AppState>();
    let caller = signed_in()?;
    respond(domain::accounts::enable_publishing(&state.db, &caller.user, &client_ip()).await)?;
    Ok(())
}

#[server(endpoint = "my_sessions")]
pub async fn my_sessions() -> Result<Vec<SessionRow>, AppError> {
    let state = expect_context::<domain::AppState>();
    let caller = signed_in()?;
    let token = caller.session_token().unwrap_or_default();
    let sessions = respond(
        domain::accounts::list_sessions(&state.db, &state.sessions, caller.user.id, token).await,
    )?;
    Ok(sessions
        .into_iter()
        .map(|s| SessionRow {
            id: s.id,
            created_at: when(s.created_at),
            last_seen_at: when(s.last_seen_at),
            user_agent: s.user_agent,
            current: s.current,
        })
        .collect())
}

#[server(endpoint = "revoke_session")]
pub async fn revoke_session(id: String) -> Result<(), AppError> {
    let state = expect_context::<domain::AppState>();
    let caller = signed_in()?;
    respond(domain::accounts::revoke_session(&state.db, &caller.user, &id, &client_ip()).await)
}

#[server(endpoint = "log_out_other_sessions")]
pub async fn log_out_other_sessions() -> Result<u64, AppError> {
    let state = expect_context::<domain::AppState>();
    let caller = signed_in()?;
    let token = caller.session_token().unwrap_or_default();
    respond(
        domain::accounts::log_out_other_sessions(&state.db, &caller.user, token, &client_ip())
            .await,
    )
}

#[server(endpoint = "my_tokens")]
pub async fn my_tokens() -> Result<Vec<TokenRow>, AppError> {
    let state = expect_context::<domain::AppState>();
    let caller = signed_in()?;
    let tokens = respond(domain::tokens::list(&state.db, caller.user.id).await)?;
    Ok(tokens.into_iter().map(token_row).collect())
}

#[cfg(feature = "ssr")]
fn token_row(token: domain::entities::api_token::Model) -> TokenRow {
    TokenRow {
        id: token.id,
        scope: token.scope().as_str().to_owned(),
        name: token.name,
        created_at: when(token.created_at),
        expires_at: token.expires_at.map(when),
        last_used_at: token.last_used_at.map(when),
    }
}

/// `expires_in_days` empty or absent: the token never expires.
#[server(endpoint = "create_token")]
pub async fn create_token(
    name: String,
    scope: String,
    expires_in_days: Option<String>,
) -> Result<CreatedToken, AppError> {
    let state = expect_context::<domain::AppState>();
    let caller = signed_in()?;
    let expires_in_days = match expires_in_days.as_deref().map(str::trim) {
        None | Some("") | Some("never") => None,
        Some(days) => Some(days.parse::<u32>().map_err(|_| {
            crate::error::refuse(AppError::Invalid {
                field: "expires_in_days".into(),
                message: "give a number of days".into(),
            })
        })?),
    };
    let new = domain::tokens::NewToken {
        name: &name,
        scope: &scope,
        expires_in_days,
    };
    let (token, secret) =
        respond(domain::tokens::create(&state, &caller.user, new, &client_ip()).await)?;
    Ok(CreatedToken {
        token: token_row(token),
        secret,
    })
}

#[server(endpoint = "revoke_token")]
pub async fn revoke_token(id: i64) -> Result<(), AppError> {
    let state = expect_context::<domain::AppState>();
    let caller = signed_in()?;
    respond(domain::tokens::revoke(&state.db, &caller.user, id, &client_ip()).await)
}

/// The viewer's organizations, and the invitations waiting for their answer.
#[server(endpoint = "my_orgs")]
pub async fn my_orgs() -> Result<OrgsOverview, AppError> {
    let state = expect_context::<domain::AppState>();
    let caller = signed_in()?;
    let orgs = respond(domain::orgs::orgs_of(&state.db, caller.user.id).await)?;
    let invitations = respond(domain::orgs::pending_invitations_of(&state.db, &caller.user).await)?;
    Ok(OrgsOverview {
        orgs: orgs.into_iter().map(org_row).collect(),
        invitations: invitations
            .into_iter()
            .map(|invitation| super::orgs::invitation_row(invitation, false))
            .collect(),
    })
}
