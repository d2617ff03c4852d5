//! The signed-in person's public profile. The picture itself is uploaded by a plain form to
//! `/api/v1/me/avatar` (a file does not fit a server function's form).
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use super::request::{client_ip, signed_in};
#[cfg(feature = "ssr")]
use crate::error::respond;
use crate::error::AppError;

/// `links` holds one address per line.
#[server(endpoint = "update_profile")]
pub async fn update_profile(
    display_name: String,
    bio: String,
    links: String,
) -> Result<(), AppError> {
    let state = expect_context::<domain::AppState>();
    let caller = signed_in()?;
    let fields = domain::profiles::ProfileFields {
        display_name: &display_name,
        bio: &bio,
        links: &links,
    };
    respond(domain::profiles::update(&state, &caller.user, fields, &client_ip()).await)?;
    Ok(())
}

#[server(endpoint = "remove_avatar")]
pub async fn remove_avatar() -> Result<(), AppError> {
    let state = expect_context::<domain::AppState>();
    let caller = signed_in()?;
    respond(domain::profiles::remove_avatar(&state, &caller.user, &client_ip()).await)?;
    Ok(())
}
