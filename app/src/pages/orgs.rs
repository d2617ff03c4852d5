//! Organizations: the list of mine with a form to create one, and an organization's members.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_params_map};

use crate::api::{get_org, my_orgs, AddMember, CreateOrg, RemoveMember, SetMemberRole};
use crate::components::forms::{refusal, FormError};
use crate::pages::settings::SettingsNav;
use crate::wire::{MemberRow, OrgDetail};

#[component]
pub fn OrgsPage() -> impl IntoView {
    let create = ServerAction::<CreateOrg>::new();
    let orgs = Resource::new(move || create.version().get(), |_| my_orgs());
    view! {
        <Title text="Organizations" />
        <h1>"Organizations"</h1>
        <SettingsNav />
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match orgs.await {
                    Ok(rows) if rows.is_empty() => view! { <p class="muted">"You are not in any organization yet."</p> }.into_any(),
                    Ok(rows) => view! {
                        <ul class="org-list" data-testid="orgs">
                            {rows.into_iter().map(|org| view! {
                                <li>
                                    <A href=format!("/settings/organizations/{}", org.name)>{org.display_name}</A>
                                    " " <span class="badge">{org.role}</span>
                                </li>
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(err) => refusal(err),
                }
            })}
        </Suspense>
        <section class="panel">
            <h2>"New organization"</h2>
            <p class="muted">"An organization owns models together: its owners and admins publish under its name."</p>
            <ActionForm action=create attr:class="auth-form">
                <label>"Name (in URLs)" <input name="name" required maxlength="39" /></label>
                <label>"Display name" <input name="display_name" maxlength="100" /></label>
                <FormError result=create.value() />
                <button type="submit" class="button">"Create organization"</button>
            </ActionForm>
        </section>
    }
}

#[component]
pub fn OrgPage() -> impl IntoView {
    let params = use_params_map();
    let name = move || params.read().get("name").unwrap_or_default();
    let add = ServerAction::<AddMember>::new();
    let set_role = ServerAction::<SetMemberRole>::new();
    let remove = ServerAction::<RemoveMember>::new();
    let detail = Resource::new(
        move || {
            (
                name(),
                add.version().get(),
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
                    Ok(org) => view! { <Members org add set_role remove /> }.into_any(),
                    Err(err) => refusal(err),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Members(
    org: OrgDetail,
    add: ServerAction<AddMember>,
    set_role: ServerAction<SetMemberRole>,
    remove: ServerAction<RemoveMember>,
) -> impl IntoView {
    let manages = org.my_role != "member";
    let owner = org.my_role == "owner";
    let org_name = org.name.clone();
    view! {
        <Title text=org.display_name.clone() />
        <h1>{org.display_name.clone()}</h1>
        <p class="muted">"@" {org.name.clone()} " · your role: " {org.my_role.clone()} " · " <A href=format!("/{}", org.name)>"public page"</A></p>
        <table class="data-table" data-testid="members">
            <thead><tr><th>"Member"</th><th>"Role"</th><th></th></tr></thead>
            <tbody>
                {org.members.into_iter().map(|member| {
                    view! { <MemberLine org=org_name.clone() member owner manages set_role remove /> }
                }).collect_view()}
            </tbody>
        </table>
        <FormError result=set_role.value() />
        <FormError result=remove.value() />
        {manages.then(|| view! {
            <section class="panel">
                <h2>"Add a member"</h2>
                <ActionForm action=add attr:class="auth-form">
                    <input type="hidden" name="org" value=org.name.clone() />
                    <label>"Username" <input name="username" required /></label>
                    <label>
                        "Role"
                        <select name="role">
                            <option value="member">"member"</option>
                            {owner.then(|| view! {
                                <option value="admin">"admin"</option>
                                <option value="owner">"owner"</option>
                            })}
                        </select>
                    </label>
                    <FormError result=add.value() />
                    <button type="submit" class="button">"Add"</button>
                </ActionForm>
            </section>
        })}
    }
}

#[component]
fn MemberLine(
    org: String,
    member: MemberRow,
    owner: bool,
    manages: bool,
    set_role: ServerAction<SetMemberRole>,
    remove: ServerAction<RemoveMember>,
) -> impl IntoView {
    let removable = owner || (manages && member.role == "member");
    let role_cell = if owner {
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
    let remove_cell = removable.then(|| {
        let (org, username) = (org.clone(), member.username.clone());
        view! {
            <ActionForm action=remove attr:class="inline-form">
                <input type="hidden" name="org" value=org />
                <input type="hidden" name="username" value=username />
                <button type="submit" class="link-button">"Remove"</button>
            </ActionForm>
        }
    });
    view! {
        <tr>
            <td><A href=format!("/{}", member.username)>{member.username.clone()}</A></td>
            <td>{role_cell}</td>
            <td>{remove_cell}</td>
        </tr>
    }
}
