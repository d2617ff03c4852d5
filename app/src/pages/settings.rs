//! The signed-in user's account pages: overview, password and account deletion, sessions,
//! API tokens.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_query_map};

use crate::api::{
    get_account, my_sessions, my_tokens, ChangePassword, CreateToken, DeleteAccount,
    EnablePublishing, LogOutOtherSessions, RemoveAvatar, ResendVerification, RevokeSession,
    RevokeToken, UpdateProfile,
};
use crate::components::copy::CopyButton;
use crate::components::forms::{kept, refusal, FieldError, FormDone, FormError};
use crate::pages::profile_form::ProfileEditor;
use crate::wire::{AccountOverview, OrgRow, SessionRow, TokenRow};

/// The tabs of every account page.
#[component]
pub fn SettingsNav() -> impl IntoView {
    view! {
        <nav class="tabs" aria-label="Account">
            <A href="/settings" exact=true>"Account"</A>
            <A href="/settings/sessions">"Sessions"</A>
            <A href="/settings/tokens">"API tokens"</A>
            <A href="/settings/organizations">"Organizations"</A>
            <A href="/settings/deleted">"Deleted models"</A>
        </nav>
    }
}

#[component]
pub fn SettingsPage() -> impl IntoView {
    let publishing = ServerAction::<EnablePublishing>::new();
    let resend = ServerAction::<ResendVerification>::new();
    let profile = ServerAction::<UpdateProfile>::new();
    let remove_picture = ServerAction::<RemoveAvatar>::new();
    // The header's "New model" link appears as soon as publishing is on.
    let viewer = crate::viewer::use_viewer();
    Effect::new(move || {
        if matches!(publishing.value().get(), Some(Ok(_))) {
            viewer.update(|v| {
                if let Some(v) = v {
                    v.is_publisher = true;
                }
            });
        }
    });
    let overview = Resource::new(
        move || {
            (
                publishing.version().get(),
                resend.version().get(),
                profile.version().get(),
                remove_picture.version().get(),
            )
        },
        |_| get_account(),
    );
    view! {
        <Title text="Your account" />
        <h1>"Your account"</h1>
        <SettingsNav />
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match overview.await {
                    Ok(account) => view! { <Overview account publishing resend profile remove_picture /> }.into_any(),
                    Err(err) => refusal(err),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Overview(
    account: AccountOverview,
    publishing: ServerAction<EnablePublishing>,
    resend: ServerAction<ResendVerification>,
    profile: ServerAction<UpdateProfile>,
    remove_picture: ServerAction<RemoveAvatar>,
) -> impl IntoView {
    let change = ServerAction::<ChangePassword>::new();
    // A changed password leaves no password in the form (without JavaScript the page reloads).
    let change_form = NodeRef::<leptos::html::Form>::new();
    Effect::new(move || {
        if matches!(change.value().get(), Some(Ok(_))) {
            if let Some(form) = change_form.get() {
                form.reset();
            }
        }
    });
    let query = use_query_map();
    let verified_now = move || query.read().get("verified").is_some();
    view! {
        <section class="panel">
            <h2>"Account"</h2>
            <dl class="facts">
                <dt>"Username"</dt>
                <dd data-testid="account-username">{account.username.clone()}</dd>
                <dt>"E-mail"</dt>
                <dd>
                    {account.email.clone().unwrap_or_default()} " "
                    {if account.email_verified {
                        view! { <span class="badge badge-open">"confirmed"</span> }.into_any()
                    } else {
                        view! { <span class="badge badge-gated">"not confirmed"</span> }.into_any()
                    }}
                </dd>
                <dt>"Role"</dt>
                <dd>{if account.is_admin { "Administrator" } else { "Member" }}</dd>
            </dl>
            <Show when=verified_now>
                <p class="form-done" role="status">"Thank you: your e-mail address is confirmed."</p>
            </Show>
            {(!account.email_verified).then(|| view! {
                <ActionForm action=resend attr:class="inline-form">
                    <button type="submit" class="button button-small">"Send the confirmation link again"</button>
                </ActionForm>
                <FormError result=resend.value() />
                <FormDone action=resend message="Sent: look for it in your inbox." />
            })}
        </section>
        <ProfileEditor account=account.clone() update=profile remove=remove_picture />
        <section class="panel">
            <h2>"Publishing"</h2>
            {if account.is_publisher {
                view! {
                    <p data-testid="publishing-on">"Publishing is on: you can list models under your name."</p>
                    <A href="/new" attr:class="button" attr:data-testid="settings-new-model">"New model"</A>
                }.into_any()
            } else {
                view! {
                    <p>"Turn on publishing to list your own models. Buying needs nothing more than an account."</p>
                    <ActionForm action=publishing attr:class="inline-form">
                        <button type="submit" class="button" data-testid="enable-publishing">"Enable publishing"</button>
                    </ActionForm>
                    <FormError result=publishing.value() />
                }.into_any()
            }}
        </section>
        <section class="panel">
            <h2>"Change your password"</h2>
            <p class="muted">"Your other sessions will be logged out."</p>
            <ActionForm action=change node_ref=change_form attr:class="auth-form">
                <label>
                    "Current password"
                    <input type="password" name="current_password" autocomplete="current-password" required />
                    <FieldError result=change.value() field="current_password" />
                </label>
                <label>
                    "New password"
                    <input type="password" name="new_password" autocomplete="new-password" required minlength="8" />
                    <FieldError result=change.value() field="new_password" />
                </label>
                <FormError result=change.value() beside=&["current_password", "new_password"] />
                <FormDone action=change message="Password changed; your other sessions are logged out." />
                <button type="submit" class="button">"Change password"</button>
            </ActionForm>
        </section>
        <DeleteAccountPanel username=account.username owned_models=account.owned_models orgs=account.managed_orgs />
    }
}

/// Deleting the account, asking for the password and the username typed again, as deleting a
/// model asks for its name; and, when the account owns models, where they go.
#[component]
fn DeleteAccountPanel(username: String, owned_models: u64, orgs: Vec<OrgRow>) -> impl IntoView {
    let delete = ServerAction::<DeleteAccount>::new();
    // The server ends the session and sends the browser home; the header follows.
    let viewer = crate::viewer::use_viewer();
    Effect::new(move || {
        if matches!(delete.value().get(), Some(Ok(()))) {
            viewer.set(None);
        }
    });
    let models = match owned_models {
        1 => "1 model".to_owned(),
        n => format!("{n} models"),
    };
    view! {
        <section class="panel danger-zone">
            <h2>"Delete your account"</h2>
            <p>"You are logged out everywhere, your API tokens stop working and you leave your organizations. Your username and e-mail address become free for anyone to take. This cannot be undone."</p>
            <ActionForm action=delete attr:class="auth-form" attr:data-testid="delete-account-form">
                {(owned_models > 0).then(|| view! {
                    <label>
                        {format!("Your {models}")}
                        <select name="hand_to" data-testid="hand-to">
                            <option value="">"Delete them too"</option>
                            {orgs.into_iter().map(|org| view! {
                                <option value=org.name.clone()>{format!("Hand them to {} (@{})", org.display_name, org.name)}</option>
                            }).collect_view()}
                        </select>
                        <span class="hint">"Deleted models leave the catalog at once; an administrator purges their files."</span>
                        <FieldError result=delete.value() field="hand_to" />
                    </label>
                })}
                <label>
                    "Your password"
                    <input type="password" name="password" autocomplete="current-password" required data-testid="delete-password" />
                    <FieldError result=delete.value() field="password" />
                </label>
                <label>
                    {format!("Type {username} to confirm")}
                    <input type="text" name="confirm" required autocomplete="off" data-testid="delete-confirm" />
                    <FieldError result=delete.value() field="confirm" />
                </label>
                <FormError result=delete.value() beside=&["hand_to", "password", "confirm"] />
                <button type="submit" class="button button-danger" data-testid="delete-account">"Delete my account"</button>
            </ActionForm>
        </section>
    }
}

#[component]
pub fn SessionsPage() -> impl IntoView {
    let revoke = ServerAction::<RevokeSession>::new();
    let others = ServerAction::<LogOutOtherSessions>::new();
    let sessions = Resource::new(
        move || (revoke.version().get(), others.version().get()),
        |_| my_sessions(),
    );
    view! {
        <Title text="Your sessions" />
        <h1>"Your sessions"</h1>
        <SettingsNav />
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match sessions.await {
                    Ok(rows) => view! {
                        <section class="panel">
                            <p class="muted">"Every browser logged in to your account. Log out any you don't recognise."</p>
                            <table class="data-table stack-on-phone" data-testid="sessions">
                                <thead><tr><th>"Device"</th><th>"Logged in"</th><th>"Last active"</th><th></th></tr></thead>
                                <tbody>
                                    {rows.into_iter().map(|row| view! { <SessionLine row revoke /> }).collect_view()}
                                </tbody>
                            </table>
                            <ActionForm action=others attr:class="inline-form">
                                <button type="submit" class="button" data-testid="log-out-others">"Log out all other sessions"</button>
                            </ActionForm>
                            <FormError result=others.value() />
                            <FormError result=revoke.value() />
                        </section>
                    }.into_any(),
                    Err(err) => refusal(err),
                }
            })}
        </Suspense>
    }
}

#[component]
fn SessionLine(row: SessionRow, revoke: ServerAction<RevokeSession>) -> impl IntoView {
    let device = crate::wire::user_agent::describe(&row.user_agent);
    view! {
        <tr>
            // The full User-Agent on hover, for the rare person who needs it.
            <td class="ua stack-title" title=row.user_agent.clone()>{device}</td>
            <td data-label="Logged in">{row.created_at}</td>
            <td data-label="Last active">{row.last_seen_at}</td>
            <td>
                {if row.current {
                    view! { <span class="badge badge-open">"this browser"</span> }.into_any()
                } else {
                    view! {
                        <ActionForm action=revoke attr:class="inline-form">
                            <input type="hidden" name="id" value=row.id />
                            <button type="submit" class="link-button">"Log out"</button>
                        </ActionForm>
                    }.into_any()
                }}
            </td>
        </tr>
    }
}

#[component]
pub fn TokensPage() -> impl IntoView {
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let tokens = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| my_tokens(),
    );
    view! {
        <Title text="API tokens" />
        <h1>"API tokens"</h1>
        <SettingsNav />
        <section class="panel">
            <h2>"New token"</h2>
            <p class="muted">"Tokens let scripts and the " <code>"bazaar push"</code> " command act as you: send " <code>"Authorization: Bearer <token>"</code> "."</p>
            <ActionForm action=create attr:class="auth-form">
                <label>"Name" <input name="name" required maxlength="64" placeholder="laptop upload script" value={kept::<CreateToken>("name")} /></label>
                <label>
                    "Scope"
                    <select name="scope">
                        <option value="read">"read — browse and download"</option>
                        <option value="write">"write — also publish and upload"</option>
                    </select>
                </label>
                <label>
                    "Expires"
                    <select name="expires_in_days">
                        <option value="30">"in 30 days"</option>
                        <option value="90">"in 90 days"</option>
                        <option value="365">"in a year"</option>
                        <option value="never">"never"</option>
                    </select>
                </label>
                <FormError result=create.value() />
                <button type="submit" class="button">"Create token"</button>
            </ActionForm>
            {move || create.value().get().and_then(Result::ok).map(|created| view! {
                <div class="secret" role="status" data-testid="new-token">
                    <p>"Copy your new token now: it will not be shown again."</p>
                    <code data-testid="token-secret">{created.secret.clone()}</code>
                    " "
                    <CopyButton text=created.secret label="Copy token" />
                </div>
            })}
        </section>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match tokens.await {
                    Ok(rows) if rows.is_empty() => view! { <p class="muted">"No tokens yet."</p> }.into_any(),
                    Ok(rows) => view! {
                        <table class="data-table stack-on-phone" data-testid="tokens">
                            <thead><tr><th>"Name"</th><th>"Scope"</th><th>"Created"</th><th>"Expires"</th><th>"Last used"</th><th></th></tr></thead>
                            <tbody>{rows.into_iter().map(|row| view! { <TokenLine row revoke /> }).collect_view()}</tbody>
                        </table>
                        <FormError result=revoke.value() />
                    }.into_any(),
                    Err(err) => refusal(err),
                }
            })}
        </Suspense>
    }
}

#[component]
fn TokenLine(row: TokenRow, revoke: ServerAction<RevokeToken>) -> impl IntoView {
    view! {
        <tr>
            <td class="stack-title">{row.name}</td>
            <td data-label="Scope"><span class="badge">{row.scope}</span></td>
            <td data-label="Created">{row.created_at}</td>
            <td data-label="Expires">{row.expires_at.unwrap_or_else(|| "never".to_owned())}</td>
            <td data-label="Last used">{row.last_used_at.unwrap_or_else(|| "never".to_owned())}</td>
            <td>
                <ActionForm action=revoke attr:class="inline-form">
                    <input type="hidden" name="id" value=row.id />
                    <button type="submit" class="link-button">"Revoke"</button>
                </ActionForm>
            </td>
        </tr>
    }
}
