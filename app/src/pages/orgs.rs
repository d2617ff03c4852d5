//! Organizations: mine, the invitations waiting for my answer and a form to create one; and
//! an organization's members and pending invitations. What the viewer may do comes from the
//! server (`OrgDetail::may` and each row's flags), never from comparing roles here.
use inspect::names::USERNAME_RULE;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{
    components::A,
    hooks::{use_params_map, use_query_map},
};

use crate::api::{
    get_org, my_orgs, AcceptInvitation, CancelInvitation, CreateOrg, DeclineInvitation,
    InviteMember, RemoveMember, SetMemberRole,
};
use crate::components::forms::{kept, refusal, FieldError, FormError};
use crate::pages::settings::SettingsNav;
use crate::wire::{InvitationRow, MemberRow, OrgDetail, OrgsOverview};

#[component]
pub fn OrgsPage() -> impl IntoView {
    let create = ServerAction::<CreateOrg>::new();
    let accept = ServerAction::<AcceptInvitation>::new();
    let decline = ServerAction::<DeclineInvitation>::new();
    let orgs = Resource::new(
        move || {
            (
                create.version().get(),
                accept.version().get(),
                decline.version().get(),
            )
        },
        |_| my_orgs(),
    );
    view! {
        <Title text="Organizations" />
        <h1>"Organizations"</h1>
        <SettingsNav />
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match orgs.await {
                    Ok(mine) => view! { <MyOrgsView mine accept decline /> }.into_any(),
                    Err(err) => refusal(err),
                }
            })}
        </Suspense>
        <FormError result=accept.value() />
        <FormError result=decline.value() />
        <section class="panel">
            <h2>"New organization"</h2>
            <p class="muted">"An organization owns models together: its owners and admins publish under its name."</p>
            <ActionForm action=create attr:class="auth-form">
                <label>
                    "Name (in URLs)"
                    <input name="name" required maxlength=USERNAME_RULE.max pattern=USERNAME_RULE.html_pattern()
                        value={kept::<CreateOrg>("name")} data-testid="org-name" />
                    <small class="muted">{USERNAME_RULE.hint()}</small>
                    <FieldError result=create.value() field="name" />
                </label>
                <label>
                    "Display name"
                    <input name="display_name" maxlength="100" value={kept::<CreateOrg>("display_name")} />
                    <FieldError result=create.value() field="display_name" />
                </label>
                <FormError result=create.value() beside=&["name", "display_name"] />
                <button type="submit" class="button">"Create organization"</button>
            </ActionForm>
        </section>
    }
}

#[component]
fn MyOrgsView(
    mine: OrgsOverview,
    accept: ServerAction<AcceptInvitation>,
    decline: ServerAction<DeclineInvitation>,
) -> impl IntoView {
    let invitations = (!mine.invitations.is_empty()).then(|| {
        view! {
            <section class="panel">
                <h2>"Invitations"</h2>
                <ul class="org-list" data-testid="invitations">
                    {mine.invitations.into_iter().map(|invitation| {
                        view! { <InvitationLine invitation accept decline /> }
                    }).collect_view()}
                </ul>
            </section>
        }
    });
    let orgs = if mine.orgs.is_empty() {
        view! { <p class="muted">"You are not in any organization yet."</p> }.into_any()
    } else {
        view! {
            <ul class="org-list" data-testid="orgs">
                {mine.orgs.into_iter().map(|org| view! {
                    <li>
                        <A href=format!("/settings/organizations/{}", org.name)>{org.display_name}</A>
                        " " <span class="badge">{org.role}</span>
                    </li>
                }).collect_view()}
            </ul>
        }
        .into_any()
    };
    view! { {invitations} {orgs} }
}

#[component]
fn InvitationLine(
    invitation: InvitationRow,
    accept: ServerAction<AcceptInvitation>,
    decline: ServerAction<DeclineInvitation>,
) -> impl IntoView {
    let (org_accept, org_decline) = (invitation.org.clone(), invitation.org.clone());
    view! {
        <li>
            <strong>{invitation.org_display_name}</strong> " (@" {invitation.org.clone()} ") "
            <span class="muted">{format!("invited you as {} · by {}", invitation.role, invitation.invited_by)}</span>
            " "
            <ActionForm action=accept attr:class="inline-form">
                <input type="hidden" name="org" value=org_accept />
                <button type="submit" class="button button-small">"Accept"</button>
            </ActionForm>
            " "
            <ActionForm action=decline attr:class="inline-form">
                <input type="hidden" name="org" value=org_decline />
                <button type="submit" class="link-button">"Decline"</button>
            </ActionForm>
        </li>
    }
}

#[component]
pub fn OrgPage() -> impl IntoView {
    let params = use_params_map();
    let name = move || params.read().get("name").unwrap_or_default();
    let invite = ServerAction::<InviteMember>::new();
    let cancel = ServerAction::<CancelInvitation>::new();
    let set_role = ServerAction::<SetMemberRole>::new();
    let remove = ServerAction::<RemoveMember>::new();
    let detail = Resource::new(
        move || {
            (
                name(),
                invite.version().get(),
                cancel.version().get(),
                set_role.version().get(),
                remove.version().get(),
            )
        },
        |(name, ..)| get_org(name),
    );
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(org) => view! { <Members org invite cancel set_role remove /> }.into_any(),
                    Err(err) => refusal(err),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Members(
    org: OrgDetail,
    invite: ServerAction<InviteMember>,
    cancel: ServerAction<CancelInvitation>,
    set_role: ServerAction<SetMemberRole>,
    remove: ServerAction<RemoveMember>,
) -> impl IntoView {
    let change_roles = org.may.change_roles;
    let org_name = org.name.clone();
    let pending = (!org.invitations.is_empty()).then(|| {
        let org_name = org.name.clone();
        view! {
            <section class="panel">
                <h2>"Pending invitations"</h2>
                <table class="data-table stack-on-phone" data-testid="invitations">
                    <thead><tr><th>"Invited"</th><th>"Role"</th><th>"By"</th><th></th></tr></thead>
                    <tbody>
                        {org.invitations.into_iter().map(|invitation| {
                            view! { <PendingLine org=org_name.clone() invitation cancel /> }
                        }).collect_view()}
                    </tbody>
                </table>
                <FormError result=cancel.value() />
            </section>
        }
    });
    let invite_form = org.may.invite.then(|| {
        view! { <InviteForm org=org.name.clone() roles=org.may.invite_roles invite /> }
    });
    view! {
        <Title text=org.display_name.clone() />
        <h1>{org.display_name.clone()}</h1>
        <p class="muted">"@" {org.name.clone()} " · your role: " {org.my_role.clone()} " · " <A href=format!("/{}", org.name)>"public page"</A></p>
        <table class="data-table stack-on-phone" data-testid="members">
            <thead><tr><th>"Member"</th><th>"Role"</th><th></th></tr></thead>
            <tbody>
                {org.members.into_iter().map(|member| {
                    view! { <MemberLine org=org_name.clone() member change_roles set_role remove /> }
                }).collect_view()}
            </tbody>
        </table>
        <FormError result=set_role.value() />
        <FormError result=remove.value() />
        {invite_form}
        {pending}
    }
}

#[component]
fn InviteForm(
    org: String,
    roles: Vec<String>,
    invite: ServerAction<InviteMember>,
) -> impl IntoView {
    // The server answers a successful invitation by coming back here with `?invited=name`, so
    // the notice shows with or without JavaScript.
    let query = use_query_map();
    let invited = move || {
        let failed = matches!(invite.value().get(), Some(Err(_)));
        query
            .read()
            .get("invited")
            .filter(|name| !name.is_empty() && !failed)
    };
    view! {
        <section class="panel">
            <h2>"Invite a member"</h2>
            <p class="muted">"They are e-mailed and join once they accept."</p>
            <ActionForm action=invite attr:class="auth-form" attr:data-testid="invite-form">
                <input type="hidden" name="org" value=org />
                <label>
                    "Username"
                    <input name="username" required />
                    <FieldError result=invite.value() field="username" />
                </label>
                <label>
                    "Role"
                    <select name="role">
                        {roles.into_iter().map(|role| view! { <option value=role.clone()>{role.clone()}</option> }).collect_view()}
                    </select>
                </label>
                <FormError result=invite.value() beside=&["username"] />
                {move || invited().map(|name| view! {
                    <p class="form-done" role="status" data-testid="form-done">{format!("Invitation sent to {name}.")}</p>
                })}
                <button type="submit" class="button">"Invite"</button>
            </ActionForm>
        </section>
    }
}

#[component]
fn PendingLine(
    org: String,
    invitation: InvitationRow,
    cancel: ServerAction<CancelInvitation>,
) -> impl IntoView {
    let username = invitation.username.clone();
    let cancel_cell = invitation.cancellable.then(|| {
        view! {
            <ActionForm action=cancel attr:class="inline-form">
                <input type="hidden" name="org" value=org />
                <input type="hidden" name="username" value=username />
                <button type="submit" class="link-button">"Cancel"</button>
            </ActionForm>
        }
    });
    view! {
        <tr>
            <td class="stack-title"><A href=format!("/{}", invitation.username)>{invitation.username.clone()}</A></td>
            <td data-label="Role"><span class="badge">{invitation.role}</span></td>
            <td data-label="By">{invitation.invited_by}</td>
            <td>{cancel_cell}</td>
        </tr>
    }
}

#[component]
fn MemberLine(
    org: String,
    member: MemberRow,
    change_roles: bool,
    set_role: ServerAction<SetMemberRole>,
    remove: ServerAction<RemoveMember>,
) -> impl IntoView {
    let role_cell = if change_roles {
        let (org, username, current) = (org.clone(), member.username.clone(), member.role.clone());
        view! {
            <ActionForm action=set_role attr:class="inline-form">
                <input type="hidden" name="org" value=org />
                <input type="hidden" name="username" value=username />
                <select name="role" aria-label="Role">
                    {["member", "admin", "owner"].into_iter().map(|role| view! {
                        <option value=role selected=current == role>{role}</option>
                    }).collect_view()}
                </select>
                <button type="submit" class="link-button">"Change"</button>
            </ActionForm>
        }
        .into_any()
    } else {
        view! { <span class="badge">{member.role.clone()}</span> }.into_any()
    };
    let remove_cell = member.removable.then(|| {
        let (org, username) = (org.clone(), member.username.clone());
        view! {
            <ActionForm action=remove attr:class="inline-form">
                <input type="hidden" name="org" value=org />
                <input type="hidden" name="username" value=username />
                <button type="submit" class="link-button">{if member.is_you { "Leave" } else { "Remove" }}</button>
            </ActionForm>
        }
    });
    view! {
        <tr>
            <td class="stack-title"><A href=format!("/{}", member.username)>{member.username.clone()}</A></td>
            <td data-label="Role">{role_cell}</td>
            <td>{remove_cell}</td>
        </tr>
    }
}
