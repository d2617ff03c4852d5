//! "My licenses": every license the viewer or their organizations hold, with its key, what it
//! covers, the receipt, and the way to manage a subscription.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_query_map};

use leptos::server_fn::ServerFn;

use crate::api::{my_licenses, ManageSubscription};
use crate::components::copy::CopyButton;
use crate::components::forms::FormError;
use crate::wire::LicenseEntry;

#[component]
pub fn LicensesPage() -> impl IntoView {
    let licenses = Resource::new(|| (), |_| my_licenses());
    let query = use_query_map();
    let unconfirmed = move || query.read().get("order").as_deref() == Some("unconfirmed");
    let manage = ServerAction::<ManageSubscription>::new();
    view! {
        <Title text="My licenses" />
        <h1>"My licenses"</h1>
        <Show when=unconfirmed>
            <p class="notice" role="status">
                "Your payment is being confirmed. The license appears here as soon as it is; this can take a minute."
            </p>
        </Show>
        <FormError result=manage.value() />
        <Suspense fallback=|| view! { <p class="loading">"Loading licenses…"</p> }>
            {move || Suspend::new(async move {
                match licenses.await {
                    Ok(rows) if rows.is_empty() => view! {
                        <p class="muted" data-testid="no-licenses">"You hold no licenses yet. " <A href="/">"Browse models"</A></p>
                    }.into_any(),
                    Ok(rows) => view! {
                        <ul class="licenses" data-testid="licenses">
                            {rows.into_iter().map(|row| view! { <License row /> }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn License(row: LicenseEntry) -> impl IntoView {
    let status_class = format!("badge license-status status-{}", row.status);
    let expires = (!row.expires_on.is_empty()).then(|| {
        let label = if row.status == "active" {
            "Renews or ends"
        } else {
            "Ended"
        };
        view! { <dt>{label}</dt><dd>{row.expires_on.clone()}</dd> }
    });
    let paid = row
        .paid
        .clone()
        .map(|paid| view! { <dt>"Paid"</dt><dd>{paid}</dd> });
    let manage_form = row.is_subscription.then(|| {
        view! {
            // A plain form: the answer sends the browser to the provider's own page.
            <form method="post" action=ManageSubscription::url() class="inline-form">
                <input type="hidden" name="license_id" value=row.id />
                <button type="submit" class="button button-secondary button-small" data-testid="manage-subscription">"Manage subscription"</button>
            </form>
        }
    });
    let key = row.license_key.clone();
    let (data_model, data_status) = (row.model.clone(), row.status.clone());
    view! {
        <li class="license panel" data-model=data_model data-status=data_status>
            <p class="license-head">
                <A href=row.model_href.clone()><strong>{row.model.clone()}</strong></A>
                " "
                <span class=status_class data-testid="license-status">{row.status.clone()}</span>
            </p>
            <p class="muted">{row.description.clone()}</p>
            <dl class="facts">
                <dt>"Licensee"</dt><dd>{row.licensee.clone()}</dd>
                <dt>"Covers"</dt><dd>{row.covers.clone()}</dd>
                <dt>"Issued"</dt><dd>{row.issued_on.clone()}</dd>
                {expires}
                {paid}
            </dl>
            <div class="license-key">
                <label>
                    "License key"
                    <textarea readonly rows="3" data-testid="license-key">{key.clone()}</textarea>
                </label>
                <CopyButton text=key />
            </div>
            {manage_form}
        </li>
    }
}
