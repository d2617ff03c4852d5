//! What a server function knows about its request: the caller the server's authentication
//! layer found, the client's address, and the session cookie. Server-side only.
use domain::caller::{Caller, SecureTransport};
use http::{header, request::Parts, HeaderMap, HeaderValue};
use leptos::prelude::use_context;
use leptos_axum::ResponseOptions;

use crate::error::{refuse, AppError};

/// The caller, if the request carried a live session or token.
pub fn caller() -> Option<Caller> {
    use_context::<Parts>()?.extensions.get::<Caller>().cloned()
}

/// The logged-in browser user; pages and server functions act on sessions only (API tokens
/// are for the REST API).
pub fn signed_in() -> Result<Caller, AppError> {
    caller()
        .filter(|caller| caller.session_token().is_some())
        .ok_or_else(|| refuse(AppError::Unauthenticated("log in first".into())))
}

/// The caller's address as the server determined it (see the server's client-origin layer).
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

fn is_https(parts: &Parts) -> bool {
    parts
        .extensions
        .get::<SecureTransport>()
        .is_some_and(|secure| secure.0)
}

/// The session cookie: HttpOnly, SameSite=Lax; over https `__Host-` prefixed (pinned to this
/// exact host, path `/`) and `Secure`.
pub mod session_cookie {
    use super::*;

    pub fn name(https: bool) -> &'static str {
        if https {
            "__Host-bazaar_session"
        } else {
            "bazaar_session"
        }
    }

    /// The session token a request carries, if any.
    pub fn read(headers: &HeaderMap, https: bool) -> Option<String> {
        read_cookie(headers, name(https))
    }

    pub fn set(token: &str, max_age_seconds: i64) {
        write_cookie(name, token, max_age_seconds);
    }

    pub fn clear() {
        write_cookie(name, "", 0);
    }
}

/// The device cookie a successful log-in leaves (see `domain::accounts::log_in_from`): built
/// like the session cookie, and kept after log-out, since it only vouches that this browser
/// once logged in to the account.
pub mod device_cookie {
    use super::*;

    pub fn name(https: bool) -> &'static str {
        if https {
            "__Host-bazaar_device"
        } else {
            "bazaar_device"
        }
    }

    /// The device token the current request carries, if any.
    pub fn current() -> Option<String> {
        let parts = use_context::<Parts>()?;
        read_cookie(&parts.headers, name(is_https(&parts)))
    }

    pub fn set(token: &str, max_age_seconds: i64) {
        write_cookie(name, token, max_age_seconds);
    }
}

fn read_cookie(headers: &HeaderMap, wanted: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, value)| *key == wanted && !value.is_empty())
        .map(|(_, value)| value.to_owned())
}

fn write_cookie(name: fn(bool) -> &'static str, value: &str, max_age_seconds: i64) {
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

/// Formats a time for the pages (UTC, minutes).
pub fn when(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}
