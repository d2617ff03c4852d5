//! Signing up, logging in and out. The session lives in an HttpOnly, SameSite=Lax cookie
//! (`__Host-` prefixed and `Secure` over https) holding a token the database knows only by hash.
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use crate::error::respond;
use crate::error::AppError;

/// Who is looking at the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    pub username: String,
}

#[server(endpoint = "whoami")]
pub async fn whoami() -> Result<Option<Viewer>, AppError> {
    // The header asks this on every render, including the server's start-up render that only
    // lists the routes and has no state: nobody is logged in there.
    let Some(state) = use_context::<domain::AppState>() else {
        return Ok(None);
    };
    let user = respond(session_cookie::current_user(&state).await)?;
    Ok(user.map(|user| Viewer {
        username: user.username,
    }))
}

#[server(endpoint = "sign_up")]
pub async fn sign_up(username: String, email: String, password: String) -> Result<(), AppError> {
    let state = expect_context::<domain::AppState>();
    let account = domain::accounts::SignUp {
        username: &username,
        email: &email,
        password: &password,
    };
    let client = session_cookie::client_ip();
    let user = respond(domain::accounts::sign_up_from(&state, &client, account).await)?;
    start_session(&state, &user.username, &password).await
}

#[server(endpoint = "log_in")]
pub async fn log_in(login: String, password: String) -> Result<(), AppError> {
    let state = expect_context::<domain::AppState>();
    start_session(&state, &login, &password).await
}

#[server(endpoint = "log_out")]
pub async fn log_out() -> Result<(), AppError> {
    let state = expect_context::<domain::AppState>();
    if let Some(token) = session_cookie::token() {
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
) -> Result<(), AppError> {
    let (client, user_agent) = (session_cookie::client_ip(), session_cookie::user_agent());
    let (_, token) =
        respond(domain::accounts::log_in_from(state, &client, login, password, &user_agent).await)?;
    session_cookie::set(&token.0, state.sessions.absolute.num_seconds());
    leptos_axum::redirect("/");
    Ok(())
}

#[cfg(feature = "ssr")]
mod session_cookie {
    use http::{header, request::Parts, HeaderValue};
    use leptos::prelude::use_context;
    use leptos_axum::ResponseOptions;

    fn is_https(parts: &Parts) -> bool {
        parts.uri.scheme_str() == Some("https")
            || parts
                .headers
                .get("x-forwarded-proto")
                .is_some_and(|proto| proto == "https")
    }

    /// Over https the `__Host-` prefix pins the cookie to this exact host, path `/`, `Secure`.
    fn name(https: bool) -> &'static str {
        if https {
            "__Host-bazaar_session"
        } else {
            "bazaar_session"
        }
    }

    pub fn token() -> Option<String> {
        let parts = use_context::<Parts>()?;
        let wanted = name(is_https(&parts));
        parts
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(key, _)| *key == wanted)
            .map(|(_, value)| value.to_owned())
    }

    /// The caller's address as the server saw it (see the server's client-address layer).
    pub fn client_ip() -> String {
        use_context::<Parts>()
            .and_then(|parts| {
                parts
                    .extensions
                    .get::<domain::rate_limit::ClientIp>()
                    .copied()
            })
            .map_or_else(|| "unknown".to_owned(), |ip| ip.0.to_string())
    }

    pub fn user_agent() -> String {
        use_context::<Parts>()
            .and_then(|parts| {
                parts
                    .headers
                    .get(header::USER_AGENT)?
                    .to_str()
                    .ok()
                    .map(str::to_owned)
            })
            .unwrap_or_default()
    }

    pub fn set(token: &str, max_age_seconds: i64) {
        write(token, max_age_seconds);
    }

    pub fn clear() {
        write("", 0);
    }

    fn write(value: &str, max_age_seconds: i64) {
        let Some(parts) = use_context::<Parts>() else {
            return;
        };
        let https = is_https(&parts);
        let secure = if https { "; Secure" } else { "" };
        let cookie = format!(
            "{}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_seconds}{secure}",
            name(https)
        );
        if let (Some(response), Ok(cookie)) = (
            use_context::<ResponseOptions>(),
            HeaderValue::from_str(&cookie),
        ) {
            response.append_header(header::SET_COOKIE, cookie);
        }
    }

    pub async fn current_user(
        state: &domain::AppState,
    ) -> domain::DomainResult<Option<domain::entities::user::Model>> {
        match token() {
            Some(token) => {
                domain::accounts::session_user(
                    &state.db,
                    &state.sessions,
                    &token,
                    chrono::Utc::now(),
                )
                .await
            }
            None => Ok(None),
        }
    }
}
