//! Buying and holding licences: checkout, "My licences", managing a subscription.
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::error::respond;
use crate::error::AppError;
use crate::wire::LicenseEntry;

/// Opens a checkout for an offer and sends the buyer to the payment page. `org` names the
/// organization an organization licence is for.
#[server(endpoint = "buy_license")]
pub async fn buy_license(offer_id: i64, org: Option<String>) -> Result<(), AppError> {
    let state = expect_context::<domain::AppState>();
    let caller = super::request::signed_in()?;
    let url = respond(
        domain::payments::orders::start_checkout(&state, &caller.user, offer_id, org.as_deref())
            .await,
    )?;
    leptos_axum::redirect(&url);
    Ok(())
}

/// The licences the caller holds, their organizations' included, newest first.
#[server(endpoint = "my_licenses")]
pub async fn my_licenses() -> Result<Vec<LicenseEntry>, AppError> {
    let state = expect_context::<domain::AppState>();
    let caller = super::request::signed_in()?;
    let held = respond(domain::licensing::held::of(&state, &caller.user).await)?;
    Ok(held.into_iter().map(to_wire).collect())
}

/// Opens the provider's page for managing the subscription behind a licence.
#[server(endpoint = "manage_subscription")]
pub async fn manage_subscription(license_id: i64) -> Result<(), AppError> {
    let state = expect_context::<domain::AppState>();
    let caller = super::request::signed_in()?;
    let url = respond(
        domain::licensing::held::manage_subscription(&state, &caller.user, license_id).await,
    )?;
    leptos_axum::redirect(&url);
    Ok(())
}

#[cfg(feature = "ssr")]
fn to_wire(held: domain::licensing::held::HeldLicense) -> LicenseEntry {
    let day = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d").to_string();
    let l = held.license;
    LicenseEntry {
        id: l.id,
        model_href: format!("/{}", held.model),
        model: held.model,
        licensee: held.licensee,
        description: held.description,
        status: l.status,
        covers: match (l.covers_published_until, l.covers_below) {
            (None, None) => "every version".into(),
            (Some(until), None) => format!("versions published until {}", day(until)),
            (None, Some(bound)) => format!("versions below {bound}"),
            (Some(until), Some(bound)) => {
                format!("versions below {bound} published until {}", day(until))
            }
        },
        issued_on: day(l.issued_at),
        expires_on: l.expires_at.map(day).unwrap_or_default(),
        license_key: l.license_key,
        paid: held.paid,
        is_subscription: l.subscription_id.is_some(),
    }
}
