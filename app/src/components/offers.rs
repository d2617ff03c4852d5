//! The model page's licence panel: each offer with its terms (shown before anyone accepts or
//! pays) and what the viewer can do about it.
use leptos::prelude::*;
use leptos_router::components::A;

use crate::api::BuyLicense;
use crate::components::forms::FormError;
use crate::wire::{OfferAction, OfferEntry};

#[component]
pub fn OfferList(offers: Vec<OfferEntry>) -> impl IntoView {
    let buy = ServerAction::<BuyLicense>::new();
    if offers.is_empty() {
        return view! { <p class="muted">"Not offered for download yet."</p> }.into_any();
    }
    view! {
        <ul class="offers" data-testid="offers">
            {offers.into_iter().map(|offer| view! { <Offer offer buy /> }).collect_view()}
        </ul>
        <FormError result=buy.value() />
    }
    .into_any()
}

#[component]
fn Offer(offer: OfferEntry, buy: ServerAction<BuyLicense>) -> impl IntoView {
    let OfferEntry {
        id,
        kind,
        description,
        terms,
        action,
        orgs,
    } = offer;
    let terms = (!terms.trim().is_empty()).then(|| {
        view! {
            <details class="offer-terms" open=matches!(action, OfferAction::Buy { .. } | OfferAction::RequestAccess)>
                <summary>"Terms"</summary>
                <p class="terms-text">{terms}</p>
            </details>
        }
    });
    let act = match action {
        OfferAction::Free => view! { <p class="muted">"Free to download."</p> }.into_any(),
        OfferAction::Held => view! {
            <p class="offer-held" data-testid="offer-held">"You hold this licence. " <A href="/licenses">"My licences"</A></p>
        }
        .into_any(),
        OfferAction::Publisher => view! { <p class="muted">"You publish this model."</p> }.into_any(),
        OfferAction::SignIn => view! {
            <p><A href="/login" attr:class="button button-small">"Log in to get it"</A></p>
        }
        .into_any(),
        OfferAction::NotConfigured => view! {
            <p class="muted" data-testid="payments-off">"Payments are not configured on this site yet."</p>
        }
        .into_any(),
        OfferAction::Requested => view! {
            <p class="muted" data-testid="access-requested">"Requested: the publisher will decide."</p>
        }
        .into_any(),
        OfferAction::RequestAccess => view! {
            <p class="muted">"Access requests open soon."</p>
        }
        .into_any(),
        OfferAction::Buy { label } => {
            let org_choice = (!orgs.is_empty()).then(|| {
                view! {
                    <label class="offer-org">
                        "For"
                        <select name="org">
                            {orgs.into_iter().map(|org| view! { <option value=org.clone()>{org.clone()}</option> }).collect_view()}
                        </select>
                    </label>
                }
            });
            view! {
                <ActionForm action=buy attr:class="offer-buy">
                    <input type="hidden" name="offer_id" value=id />
                    {org_choice}
                    <button type="submit" class="button" data-testid="buy">{label}</button>
                </ActionForm>
            }
            .into_any()
        }
    };
    view! {
        <li class="offer" data-kind=kind>
            <p class="offer-what">{description}</p>
            {terms}
            {act}
        </li>
    }
}
