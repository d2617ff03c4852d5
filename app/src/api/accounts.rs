//! Signing up, logging in and out, and getting back into an account: password change and
//! reset, e-mail confirmation.
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use super::request::{client_ip, device_cookie, session_cookie, signed_in, user_agent};
#[cfg(feature = "ssr")]
use crate::error::respond;
use crate::error::AppError;
use crate::wire::{SignUpSent, Viewer};

/// Stops at "confirm your e-mail": no session until the e-mailed link is followed. The
/// answer is the same whether or not the address already had an account.
#[server(endpoint = "sign_up")]
pub async fn sign_up(
    username: String,
    email: String,
    password: String,
) -> Result<SignUpSent, AppError> {
    let state = expect_context::<domain::AppState>();
    let account = domain::accounts::SignUp {
        username: &username,
        email: &email,
        password: &password,
    };
    let sent = respond(domain::accounts::sign_up_from(&state, &client_ip(), account).await)?;
    let token = sent.confirm_token.filter(|t| is_token(t));
    leptos_axum::redirect(&match &token {
        Some(token) => format!("/signup?sent=1&confirm={token}"),
        None => "/signup?sent=1".to_owned(),
    });
    Ok(SignUpSent {
        email: sent.email,
        link: token.map(|token| format!("/verify-email/{token}")),
    })
}

/// Whether `token` looks like the links' tokens (hex), so it is safe in a URL as it is.
pub fn is_token(token: &str) -> bool {
    !token.is_empty() && token.len() <= 128 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

#[server(endpoint = "log_in")]
pub async fn log_in(login: String, password: String) -> Result<Viewer, AppError> {
    let state = expect_context::<domain::AppState>();
    start_session(&state, &login, &password).await
}

#[server(endpoint = "log_out")]
pub async fn log_out() -> Result<(), AppError> {
    let state = expect_context::<domain::AppState>();
    if let Some(token) = super::request::caller().and_then(|c| c.session_token().map(str::to_owned))
    {
        respond(domain::accounts::log_out(&state.db, &token).await)?;
    }
    session_cookie::clear();
    leptos_axum::redirect("/");
    Ok(())
}

#[cfg(feature = "ssr")]
async fn start_session(
    state: &domain::AppState,
    login: &str,
    password: &str,
) -> Result<Viewer, AppError> {
    let (client, user_agent) = (client_ip(), user_agent());
    let device = device_cookie::current();
    let attempt = domain::accounts::LogInAttempt {
        client: &client,
        login,
        password,
        user_agent: &user_agent,
        device: device.as_deref(),
    };
    let logged_in = respond(domain::accounts::log_in_from(state, attempt).await)?;
    session_cookie::set(&logged_in.session.0, state.sessions.absolute.num_seconds());
    device_cookie::set(
        &logged_in.device.0,
        domain::accounts::DEVICE_LIFETIME.num_seconds(),
    );
    leptos_axum::redirect("/");
    Ok(viewer(&logged_in.user))
}

#[cfg(feature = "ssr")]
pub fn viewer(user: &domain::entities::user::Model) -> Viewer {
    Viewer {
        username: user.username.clone(),
        is_admin: user.is_admin,
        is_publisher: user.is_publisher,
    }
}

#[server(endpoint = "change_password")]
pub async fn change_password(
    current_password: String,
    new_password: String,
) -> Result<(), AppError> {
    let state = expect_context::<domain::AppState>();
    let caller = signed_in()?;
    let token = caller.session_token().unwrap_or_default();
    respond(
        domain::accounts::change_password(
            &state,
            &caller.user,
            token,
            &current_password,
            &new_password,
            &client_ip(),
        )
        .await,
    )
}

/// Always answers the same, whether or not the address has an account.
#[server(endpoint = "forgot_password")]
pub async fn forgot_password(email: String) -> Result<(), AppError> {
    let state = expect_context::<domain::AppState>();
    respond(domain::recovery::request_password_reset(&state, &email, &client_ip()).await)?;
    leptos_axum::redirect("/forgot-password?sent=1");
    Ok(())
}

#[server(endpoint = "reset_password")]
pub async fn reset_password(token: String, password: String) -> Result<(), AppError> {
    let state = expect_context::<domain::AppState>();
    respond(domain::recovery::reset_password(&state, &token, &password, &client_ip()).await)?;
    leptos_axum::redirect("/login?reset=1");
    Ok(())
}

/// Follows a confirmation link. A browser without a session is logged in to the account
/// just confirmed, so a sign-up ends logged in; one with a session stays as it is.
#[server(endpoint = "verify_email")]
pub async fn verify_email(token: String) -> Result<Viewer, AppError> {
    let state = expect_context::<domain::AppState>();
    // Not `signed_in()`: its refusal would set this answer's status.
    let caller = super::request::caller().filter(|c| c.session_token().is_some());
    let (user, session) = respond(
        domain::accounts::confirm_sign_up(
            &state,
            &token,
            &client_ip(),
            &user_agent(),
            caller.is_none(),
        )
        .await,
    )?;
    if let Some(caller) = caller {
        leptos_axum::redirect("/settings?verified=1");
        return Ok(viewer(&caller.user));
    }
    if let Some(session) = session {
        session_cookie::set(&session.0, state.sessions.absolute.num_seconds());
    }
    leptos_axum::redirect("/");
    Ok(viewer(&user))
}

#[server(endpoint = "resend_verification")]
pub async fn resend_verification() -> Result<(), AppError> {
    let state = expect_context::<domain::AppState>();
    let caller = signed_in()?;
    respond(domain::recovery::send_verification(&state, &caller.user).await)?;
    Ok(())
}

/// Deletes the signed-in account once `password` is right and `confirm` repeats the username.
/// `hand_to` names the organization that gets the account's models; empty or absent, they are
/// hidden. The browser is logged out and lands on the home page, which says so.
#[server(endpoint = "delete_account")]
pub async fn delete_account(
    password: String,
    confirm: String,
    hand_to: Option<String>,
) -> Result<(), AppError> {
    use domain::account_deletion::{Deletion, Handover};
    let state = expect_context::<domain::AppState>();
    let caller = signed_in()?;
    let models = match hand_to.as_deref().map(str::trim) {
        None | Some("") => Handover::Hide,
        Some(org) => Handover::To(org),
    };
    let deletion = Deletion {
        password: &password,
        confirm: &confirm,
        models,
    };
    respond(
        domain::account_deletion::delete_account(&state, &caller.user, deletion, &client_ip())
            .await,
    )?;
    session_cookie::clear();
    leptos_axum::redirect("/?deleted=1");
    Ok(())
}
