//! Buying and holding licenses: checkout, "My licenses", managing a subscription.
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::error::respond;
use crate::error::AppError;
use crate::wire::{AccessRequestEntry, LicenseEntry};

/// Opens a checkout for an offer and sends the buyer to the payment page. `org` names the
/// organization an organization license is for.
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

/// Accepts a gated offer's terms (`terms_sha256` names the text the page showed) for the
/// caller or the organization `org`; returns whether access is granted now or waits.
#[server(endpoint = "request_access")]
pub async fn request_access(
    offer_id: i64,
    org: Option<String>,
    terms_sha256: String,
    accept: Option<String>,
) -> Result<bool, AppError> {
    let state = expect_context::<domain::AppState>();
    let caller = super::request::signed_in()?;
    if accept.is_none() {
        return Err(crate::error::refuse(AppError::Invalid {
            field: "accept".into(),
            message: "tick the box to accept the terms".into(),
        }));
    }
    let status = respond(
        domain::licensing::access::request(
            &state,
            &caller.user,
            offer_id,
            org.as_deref(),
            &terms_sha256,
        )
        .await,
    )?;
    Ok(status == domain::licensing::access::RequestStatus::Approved)
}

/// The pending access requests for the caller's models.
#[server(endpoint = "access_queue")]
pub async fn access_queue() -> Result<Vec<AccessRequestEntry>, AppError> {
    let state = expect_context::<domain::AppState>();
    let caller = super::request::signed_in()?;
    let pending = respond(domain::licensing::access::queue(&state, &caller.user).await)?;
    Ok(pending
        .into_iter()
        .map(|p| AccessRequestEntry {
            id: p.request.id,
            model: p.model,
            requester: p.requester,
            licensee: p.licensee,
            requested_at: p.request.created_at.format("%Y-%m-%d %H:%M").to_string(),
            terms_sha256: p.request.terms_sha256,
        })
        .collect())
}

/// Approves or declines a pending access request.
#[server(endpoint = "decide_access")]
pub async fn decide_access(request_id: i64, approve: bool) -> Result<(), AppError> {
    let state = expect_context::<domain::AppState>();
    let caller = super::request::signed_in()?;
    respond(domain::licensing::access::decide(&state, &caller.user, request_id, approve).await)
}

/// The licenses the caller holds, their organizations' included, newest first.
#[server(endpoint = "my_licenses")]
pub async fn my_licenses() -> Result<Vec<LicenseEntry>, AppError> {
    let state = expect_context::<domain::AppState>();
    let caller = super::request::signed_in()?;
    let held = respond(domain::licensing::held::of(&state, &caller.user).await)?;
    Ok(held.into_iter().map(to_wire).collect())
}

/// Opens the provider's page for managing the subscription behind a license.
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

/// The active offers of a listing and what a new one may choose from, for its publishers'
/// settings page.
#[server(endpoint = "listing_offers")]
pub async fn listing_offers(
    owner: String,
    slug: String,
) -> Result<crate::wire::ListingOffers, AppError> {
    let state = expect_context::<domain::AppState>();
    let caller = super::request::signed_in()?;
    let offers =
        respond(domain::licensing::offer_admin::list(&state, &caller.user, &owner, &slug).await)?;
    Ok(crate::wire::ListingOffers {
        offers: offers
            .into_iter()
            .map(|offer| crate::wire::OfferRow {
                id: offer.id,
                description: domain::licensing::offers::OfferTerms::of(&offer)
                    .map_or_else(|| offer.kind.clone(), |t| t.in_words()),
                terms: offer.terms,
            })
            .collect(),
        choices: offer_choices_now(),
    })
}

/// What a new offer may choose from, for the form on `/new`.
#[server(endpoint = "offer_choices")]
pub async fn offer_choices() -> Result<crate::wire::OfferChoices, AppError> {
    Ok(offer_choices_now())
}

#[cfg(feature = "ssr")]
fn offer_choices_now() -> crate::wire::OfferChoices {
    use domain::licensing::offers::{CURRENCIES, OPEN_LICENSES};
    crate::wire::OfferChoices {
        licenses: OPEN_LICENSES
            .iter()
            .map(|(id, name)| ((*id).to_owned(), (*name).to_owned()))
            .collect(),
        currencies: CURRENCIES
            .iter()
            .map(|c| c.code.to_ascii_uppercase())
            .collect(),
    }
}

/// Adds an offer to a listing. `price` is in major units as typed ("9.50").
#[allow(clippy::too_many_arguments)]
#[server(endpoint = "add_offer")]
pub async fn add_offer(
    owner: String,
    slug: String,
    kind: Option<String>,
    spdx: Option<String>,
    price: Option<String>,
    currency: Option<String>,
    seat: Option<String>,
    covers: Option<String>,
    interval: Option<String>,
    approval: Option<String>,
    terms: Option<String>,
) -> Result<(), AppError> {
    let state = expect_context::<domain::AppState>();
    let caller = super::request::signed_in()?;
    let offer = OfferForm {
        kind,
        spdx,
        price,
        currency,
        seat,
        covers,
        interval,
        approval,
        terms,
    };
    respond(
        domain::licensing::offer_admin::add(&state, &caller.user, &owner, &slug, &offer.input())
            .await,
    )?;
    Ok(())
}

/// A new offer's fields as a form posts them (see `components::offer_fields`). Server
/// functions take them one by one: a nested or flattened argument would bring serde's
/// buffering deserializer into the browser bundle.
#[cfg(feature = "ssr")]
pub(crate) struct OfferForm {
    pub kind: Option<String>,
    pub spdx: Option<String>,
    pub price: Option<String>,
    pub currency: Option<String>,
    pub seat: Option<String>,
    pub covers: Option<String>,
    pub interval: Option<String>,
    pub approval: Option<String>,
    pub terms: Option<String>,
}

#[cfg(feature = "ssr")]
impl OfferForm {
    pub fn input(&self) -> domain::licensing::offers::OfferInput<'_> {
        domain::licensing::offers::OfferInput {
            kind: self.kind.as_deref().unwrap_or(""),
            spdx: self.spdx.as_deref(),
            price: self.price.as_deref(),
            price_minor: None,
            currency: self.currency.as_deref(),
            seat: self.seat.as_deref(),
            covers: self.covers.as_deref(),
            interval: self.interval.as_deref(),
            approval: self.approval.as_deref(),
            terms: self.terms.as_deref().unwrap_or(""),
        }
    }
}

/// Withdraws an offer: nobody can take it up any more; licenses granted stay.
#[server(endpoint = "withdraw_offer")]
pub async fn withdraw_offer(owner: String, slug: String, offer_id: i64) -> Result<(), AppError> {
    let state = expect_context::<domain::AppState>();
    let caller = super::request::signed_in()?;
    respond(
        domain::licensing::offer_admin::withdraw(&state, &caller.user, &owner, &slug, offer_id)
            .await,
    )
}

/// The caller's sales over the models they may publish.
#[server(endpoint = "sales_dashboard")]
pub async fn sales_dashboard() -> Result<crate::wire::SalesDashboard, AppError> {
    use domain::licensing::offers::Currency;
    let state = expect_context::<domain::AppState>();
    let caller = super::request::signed_in()?;
    let report = respond(domain::payments::sales::report(&state, &caller.user).await)?;
    let words = |amount: i64, code: &str| {
        Currency::parse(code).map_or_else(|| format!("{amount} {code}"), |c| c.format(amount))
    };
    let currency = report.currency.clone().unwrap_or_default();
    Ok(crate::wire::SalesDashboard {
        days: report
            .days
            .iter()
            .map(|(day, sales, revenue)| crate::wire::SalesDay {
                day: day.format("%Y-%m-%d").to_string(),
                sales: *sales,
                revenue_minor: *revenue,
                revenue: words(*revenue, &currency),
            })
            .collect(),
        currency: currency.to_ascii_uppercase(),
        by_offer: report
            .by_offer
            .into_iter()
            .map(
                |(model, offer, sales, revenue, code)| crate::wire::SalesRow {
                    model,
                    offer,
                    sales,
                    revenue: words(revenue, &code),
                },
            )
            .collect(),
        refunded: report.refunded,
        payouts: match respond(domain::payments::payouts::status(&state, &caller.user).await)? {
            domain::payments::payouts::PayoutState::NotSetUp => "not_set_up",
            domain::payments::payouts::PayoutState::Pending => "pending",
            domain::payments::payouts::PayoutState::Active => "active",
        }
        .to_owned(),
    })
}

/// Sends the publisher to the provider's onboarding for payouts.
#[server(endpoint = "set_up_payouts")]
pub async fn set_up_payouts() -> Result<(), AppError> {
    let state = expect_context::<domain::AppState>();
    let caller = super::request::signed_in()?;
    let url = respond(domain::payments::payouts::start(&state, &caller.user).await)?;
    leptos_axum::redirect(&url);
    Ok(())
}
