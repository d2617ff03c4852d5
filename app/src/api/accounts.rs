//! Signing up, logging in and out, and getting back into an account: password change and
//! reset, e-mail confirmation.
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use super::request::{client_ip, session_cookie, signed_in, user_agent};
#[cfg(feature = "ssr")]
use crate::error::respond;
use crate::error::AppError;
use crate::wire::Viewer;

#[server(endpoint = "sign_up")]
pub async fn sign_up(
    username: String,
    email: String,
    password: String,
) -> Result<Viewer, AppError> {
    let state = expect_context::<domain::AppState>();
    let account = domain::accounts::SignUp {
        username: &username,
        email: &email,
        password: &password,
    };
    let user = respond(domain::accounts::sign_up_from(&state, &client_ip(), account).await)?;
    start_session(&state, &user.username, &password).await
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
    let (user, token) = respond(
        domain::accounts::log_in_from(state, &client_ip(), login, password, &user_agent()).await,
    )?;
    session_cookie::set(&token.0, state.sessions.absolute.num_seconds());
    leptos_axum::redirect("/");
    Ok(viewer(&user))
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

#[server(endpoint = "verify_email")]
pub async fn verify_email(token: String) -> Result<(), AppError> {
    let state = expect_context::<domain::AppState>();
    respond(domain::recovery::verify_email(&state, &token, &client_ip()).await)?;
    let signed_in = super::request::signed_in().is_ok();
    leptos_axum::redirect(if signed_in {
        "/settings?verified=1"
    } else {
        "/login?verified=1"
    });
    Ok(())
}

#[server(endpoint = "resend_verification")]
pub async fn resend_verification() -> Result<(), AppError> {
    let state = expect_context::<domain::AppState>();
    let caller = signed_in()?;
    respond(domain::recovery::send_verification(&state, &caller.user).await)
}
