//! Organizations, their members and invitations.
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use super::request::{client_ip, signed_in, when};
#[cfg(feature = "ssr")]
use crate::error::respond;
use crate::error::AppError;
use crate::wire::OrgDetail;
#[cfg(feature = "ssr")]
use crate::wire::{InvitationRow, MemberRow, OrgPermissions};

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

/// An organization's page for its members: what the viewer may do there comes from the
/// same rules that check each change.
#[server(endpoint = "get_org")]
pub async fn get_org(name: String) -> Result<OrgDetail, AppError> {
    let state = expect_context::<domain::AppState>();
    let caller = signed_in()?;
    let org = respond(domain::orgs::find(&state.db, &name).await)?;
    let may = respond(domain::orgs::permissions(&state.db, &org, &caller.user).await)?;
    let members = respond(domain::orgs::members(&state.db, org.id).await)?;
    let invitations = if may.may_invite() {
        respond(domain::orgs::invitations(&state.db, &caller.user, &org).await)?
    } else {
        Vec::new()
    };
    Ok(OrgDetail {
        name: org.username,
        display_name: org.display_name,
        my_role: may.role.as_str().to_owned(),
        may: OrgPermissions {
            invite: may.may_invite(),
            invite_roles: may
                .grantable()
                .into_iter()
                .map(|role| role.as_str().to_owned())
                .collect(),
            change_roles: may.may_change_roles(),
        },
        members: members
            .into_iter()
            .map(|(user, role)| MemberRow {
                removable: user.id == caller.user.id || may.may_remove(role),
                is_you: user.id == caller.user.id,
                username: user.username,
                role: role.as_str().to_owned(),
            })
            .collect(),
        invitations: invitations
            .into_iter()
            .map(|invitation| {
                let cancellable = may.may_remove(invitation.role);
                invitation_row(invitation, cancellable)
            })
            .collect(),
    })
}

#[cfg(feature = "ssr")]
pub(crate) fn invitation_row(
    invitation: domain::orgs::Invitation,
    cancellable: bool,
) -> InvitationRow {
    InvitationRow {
        org: invitation.org.username,
        org_display_name: invitation.org.display_name,
        username: invitation.person.username,
        role: invitation.role.as_str().to_owned(),
        invited_by: invitation.invited_by,
        created_at: when(invitation.created_at),
        cancellable,
    }
}

/// Invites `username`; the page then says to whom the invitation went.
#[server(endpoint = "invite_member")]
pub async fn invite_member(org: String, username: String, role: String) -> Result<(), AppError> {
    let state = expect_context::<domain::AppState>();
    let caller = signed_in()?;
    let org = respond(domain::orgs::find(&state.db, &org).await)?;
    let role = respond(domain::orgs::Role::parse(&role))?;
    let person = respond(
        domain::orgs::invite(&state, &caller.user, &org, &username, role, &client_ip()).await,
    )?;
    leptos_axum::redirect(&format!(
        "/settings/organizations/{}?invited={}",
        org.username, person.username
    ));
    Ok(())
}

/// The invitee joins; the browser lands on the organization's page.
#[server(endpoint = "accept_invitation")]
pub async fn accept_invitation(org: String) -> Result<(), AppError> {
    let state = expect_context::<domain::AppState>();
    let caller = signed_in()?;
    let org = respond(domain::orgs::find(&state.db, &org).await)?;
    respond(domain::orgs::accept(&state.db, &caller.user, &org, &client_ip()).await)?;
    leptos_axum::redirect(&format!("/settings/organizations/{}", org.username));
    Ok(())
}

#[server(endpoint = "decline_invitation")]
pub async fn decline_invitation(org: String) -> Result<(), AppError> {
    let state = expect_context::<domain::AppState>();
    let caller = signed_in()?;
    let org = respond(domain::orgs::find(&state.db, &org).await)?;
    respond(domain::orgs::decline(&state.db, &caller.user, &org, &client_ip()).await)?;
    leptos_axum::redirect("/settings/organizations");
    Ok(())
}

#[server(endpoint = "cancel_invitation")]
pub async fn cancel_invitation(org: String, username: String) -> Result<(), AppError> {
    let state = expect_context::<domain::AppState>();
    let caller = signed_in()?;
    let org = respond(domain::orgs::find(&state.db, &org).await)?;
    respond(domain::orgs::cancel(&state.db, &caller.user, &org, &username, &client_ip()).await)
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
