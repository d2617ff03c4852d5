//! Organizations and their members.
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use super::request::{client_ip, signed_in};
#[cfg(feature = "ssr")]
use crate::error::respond;
use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::wire::MemberRow;
use crate::wire::OrgDetail;

#[server(endpoint = "create_org")]
pub async fn create_org(name: String, display_name: String) -> Result<(), AppError> {
    let state = expect_context::<domain::AppState>();
    let caller = signed_in()?;
    let org = respond(
        domain::orgs::create(&state.db, &caller.user, &name, &display_name, &client_ip()).await,
    )?;
    leptos_axum::redirect(&format!("/settings/organizations/{}", org.username));
    Ok(())
}

/// An organization's page for its members.
#[server(endpoint = "get_org")]
pub async fn get_org(name: String) -> Result<OrgDetail, AppError> {
    let state = expect_context::<domain::AppState>();
    let caller = signed_in()?;
    let org = respond(domain::orgs::find(&state.db, &name).await)?;
    let my_role = respond(domain::orgs::require_member(&state.db, &org, &caller.user).await)?;
    let members = respond(domain::orgs::members(&state.db, org.id).await)?;
    Ok(OrgDetail {
        name: org.username,
        display_name: org.display_name,
        my_role: my_role.as_str().to_owned(),
        members: members
            .into_iter()
            .map(|(user, role)| MemberRow {
                username: user.username,
                role: role.as_str().to_owned(),
            })
            .collect(),
    })
}

#[server(endpoint = "add_member")]
pub async fn add_member(org: String, username: String, role: String) -> Result<(), AppError> {
    let state = expect_context::<domain::AppState>();
    let caller = signed_in()?;
    let org = respond(domain::orgs::find(&state.db, &org).await)?;
    let role = respond(domain::orgs::Role::parse(&role))?;
    respond(
        domain::orgs::add_member(&state.db, &caller.user, &org, &username, role, &client_ip())
            .await,
    )
}

#[server(endpoint = "set_member_role")]
pub async fn set_member_role(org: String, username: String, role: String) -> Result<(), AppError> {
    let state = expect_context::<domain::AppState>();
    let caller = signed_in()?;
    let org = respond(domain::orgs::find(&state.db, &org).await)?;
    let role = respond(domain::orgs::Role::parse(&role))?;
    respond(
        domain::orgs::set_role(&state.db, &caller.user, &org, &username, role, &client_ip()).await,
    )
}

#[server(endpoint = "remove_member")]
pub async fn remove_member(org: String, username: String) -> Result<(), AppError> {
    let state = expect_context::<domain::AppState>();
    let caller = signed_in()?;
    let org = respond(domain::orgs::find(&state.db, &org).await)?;
    respond(
        domain::orgs::remove_member(&state.db, &caller.user, &org, &username, &client_ip()).await,
    )
}
