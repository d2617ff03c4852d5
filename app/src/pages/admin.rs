//! Site administration: the audit log, the e-mail outbox, deleted listings and orders.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::api::{admin_orders, audit_log, deleted_listings, outbox, PurgeListing, RefundOrder};
use crate::components::deleted::{DeletedModels, DeletedOutcome};
use crate::components::forms::refusal;
use crate::components::forms::FormError;
use crate::error::AppError;
use crate::viewer::use_viewer;

/// The refusal an admin page shows instead of its frame to anyone but an administrator (the
/// server functions behind it refuse them too). The viewer is known on the first render, so
/// nothing is fetched for them.
fn not_for_this_viewer() -> Option<AnyView> {
    let refused = match use_viewer().get_untracked() {
        None => AppError::Unauthenticated("log in to continue".to_owned()),
        Some(viewer) if !viewer.is_admin => {
            AppError::Forbidden("Only administrators may open the administration pages.".to_owned())
        }
        Some(_) => return None,
    };
    Some(view! { <Title text="Not allowed" /> {refusal(refused)} }.into_any())
}

#[component]
fn AdminNav() -> impl IntoView {
    view! {
        <nav class="tabs" aria-label="Administration">
            <A href="/admin/audit">"Audit log"</A>
            <A href="/admin/outbox">"Outbox"</A>
            <A href="/admin/deleted">"Deleted models"</A>
            <A href="/admin/orders">"Orders"</A>
        </nav>
    }
}

#[component]
pub fn AuditPage() -> impl IntoView {
    if let Some(refused) = not_for_this_viewer() {
        return refused;
    }
    let entries = Resource::new(|| (), |_| audit_log(None));
    view! {
        <Title text="Audit log" />
        <h1>"Audit log"</h1>
        <AdminNav />
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match entries.await {
                    Ok(rows) => view! {
                        <table class="data-table stack-on-phone" data-testid="audit-log">
                            <thead><tr><th>"When"</th><th>"Who"</th><th>"What"</th><th>"Subject"</th><th>"From"</th></tr></thead>
                            <tbody>
                                {rows.into_iter().map(|row| view! {
                                    <tr>
                                        <td class="stack-title">{row.at}</td>
                                        <td data-label="Who">{row.actor}" "<span class="muted" data-testid="actor-kind">{format!("({})", row.actor_kind)}</span></td>
                                        <td data-label="What"><code>{row.action}</code></td>
                                        <td data-label="Subject">{row.subject}</td>
                                        <td data-label="From">{row.ip}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Err(err) => refusal(err),
                }
            })}
        </Suspense>
    }
    .into_any()
}

#[component]
pub fn OutboxPage() -> impl IntoView {
    if let Some(refused) = not_for_this_viewer() {
        return refused;
    }
    let messages = Resource::new(|| (), |_| outbox());
    view! {
        <Title text="Outbox" />
        <h1>"Outbox"</h1>
        <AdminNav />
        <p class="muted">"Every e-mail the site sends. Without an SMTP server configured, this is where they stay."</p>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match messages.await {
                    Ok(rows) if rows.is_empty() => view! { <p class="muted">"No e-mail sent yet."</p> }.into_any(),
                    Ok(rows) => view! {
                        <div class="outbox" data-testid="outbox">
                            {rows.into_iter().map(|m| view! {
                                <article class="mail">
                                    <header>
                                        <strong>{m.subject}</strong>
                                        <span class="muted">" to " {m.recipient} " · " {m.created_at} " · " {m.status}</span>
                                    </header>
                                    <pre>{m.body}</pre>
                                </article>
                            }).collect_view()}
                        </div>
                    }.into_any(),
                    Err(err) => refusal(err),
                }
            })}
        </Suspense>
    }
    .into_any()
}

#[component]
pub fn DeletedListingsPage() -> impl IntoView {
    if let Some(refused) = not_for_this_viewer() {
        return refused;
    }
    let purge = ServerAction::<PurgeListing>::new();
    let listings = Resource::new(move || purge.version().get(), |_| deleted_listings());
    view! {
        <Title text="Deleted models" />
        <h1>"Deleted models"</h1>
        <AdminNav />
        <p class="muted">"Publishers' deleted models are hidden everywhere; their publishers can restore them until they are purged. Purging removes the files from storage for good."</p>
        <DeletedOutcome purge />
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match listings.await {
                    Ok(rows) => view! { <DeletedModels rows purge /> }.into_any(),
                    Err(err) => refusal(err),
                }
            })}
        </Transition>
    }
    .into_any()
}

#[component]
pub fn OrdersPage() -> impl IntoView {
    if let Some(refused) = not_for_this_viewer() {
        return refused;
    }
    let refund = ServerAction::<RefundOrder>::new();
    let orders = Resource::new(move || refund.version().get(), |_| admin_orders());
    view! {
        <Title text="Orders" />
        <h1>"Orders"</h1>
        <AdminNav />
        <FormError result=refund.value() />
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match orders.await {
                    Ok(rows) if rows.is_empty() => view! { <p class="muted">"No orders yet."</p> }.into_any(),
                    Ok(rows) => view! {
                        <table class="data-table stack-on-phone" data-testid="orders">
                            <thead><tr><th>"Order"</th><th>"When"</th><th>"Buyer"</th><th>"Model"</th><th>"Amount"</th><th>"Status"</th><th><span class="visually-hidden">"Refund"</span></th></tr></thead>
                            <tbody>
                                {rows.into_iter().map(|row| view! {
                                    <tr>
                                        <td class="stack-title">{format!("#{} ({})", row.id, row.provider)}</td>
                                        <td data-label="When">{row.at}</td>
                                        <td data-label="Buyer">{row.buyer}</td>
                                        <td data-label="Model">{row.model}</td>
                                        <td data-label="Amount">{row.amount}</td>
                                        <td data-label="Status" data-testid="order-status">{row.status}</td>
                                        <td>{row.refundable.then(|| view! {
                                            <ActionForm action=refund attr:class="inline-form">
                                                <input type="hidden" name="order_id" value=row.id />
                                                <button type="submit" class="button button-danger button-small" data-testid="refund">"Refund"</button>
                                            </ActionForm>
                                        })}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Err(err) => refusal(err),
                }
            })}
        </Suspense>
    }
    .into_any()
}
