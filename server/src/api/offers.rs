//! A listing's offers through the REST API (for scripts and `bazaar push`): list, add
//! (checked by the same rule as the settings page), withdraw.
use axum::{
    extract::{Path, State},
    http::StatusCode,
    Extension, Json,
};
use domain::licensing::offers::{OfferInput, OfferTerms};
use domain::tokens::Scope;
use domain::{AppState, Caller};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{require, ApiError};

/// An offer as a client sends it; `price_minor` in minor units, or `price` as typed ("9.50").
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOffer {
    kind: String,
    spdx: Option<String>,
    price: Option<String>,
    price_minor: Option<i64>,
    currency: Option<String>,
    seat: Option<String>,
    covers: Option<String>,
    interval: Option<String>,
    approval: Option<String>,
    #[serde(default)]
    terms: String,
}

impl NewOffer {
    pub fn input(&self) -> OfferInput<'_> {
        OfferInput {
            kind: &self.kind,
            spdx: self.spdx.as_deref(),
            price: self.price.as_deref(),
            price_minor: self.price_minor,
            currency: self.currency.as_deref(),
            seat: self.seat.as_deref(),
            covers: self.covers.as_deref(),
            interval: self.interval.as_deref(),
            approval: self.approval.as_deref(),
            terms: &self.terms,
        }
    }
}

fn describe(offer: &domain::entities::license_offer::Model) -> Value {
    json!({
        "id": offer.id,
        "kind": offer.kind,
        "description": OfferTerms::of(offer).map(|t| t.in_words()),
        "spdx": offer.spdx,
        "price_minor": offer.price_cents,
        "currency": offer.currency,
        "seat": offer.seat,
        "covers": offer.covers,
        "interval": offer.billing_interval,
        "approval": offer.approval,
        "terms": offer.terms,
    })
}

pub async fn list(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    Path((owner, slug)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let caller = require(caller, Scope::Read)?;
    let offers = domain::licensing::offer_admin::list(&state, &caller.user, &owner, &slug).await?;
    Ok(Json(
        json!({ "offers": offers.iter().map(describe).collect::<Vec<_>>() }),
    ))
}

pub async fn add(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    Path((owner, slug)): Path<(String, String)>,
    Json(new): Json<NewOffer>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let caller = require(caller, Scope::Write)?;
    let offer =
        domain::licensing::offer_admin::add(&state, &caller.user, &owner, &slug, &new.input())
            .await?;
    Ok((StatusCode::CREATED, Json(describe(&offer))))
}

pub async fn withdraw(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    Path((owner, slug, id)): Path<(String, String, i64)>,
) -> Result<StatusCode, ApiError> {
    let caller = require(caller, Scope::Write)?;
    domain::licensing::offer_admin::withdraw(&state, &caller.user, &owner, &slug, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
