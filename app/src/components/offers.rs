//! The model page's license panel: each offer with its terms (shown before anyone accepts or
//! pays) and what the viewer can do about it.
use leptos::prelude::*;
use leptos_router::components::A;

use leptos::server_fn::ServerFn;

use crate::api::{BuyLicense, RequestAccess};
use crate::components::forms::{FieldError, FormError};
use crate::wire::{OfferAction, OfferEntry};

#[component]
pub fn OfferList(offers: Vec<OfferEntry>) -> impl IntoView {
    let buy = ServerAction::<BuyLicense>::new();
    let request = ServerAction::<RequestAccess>::new();
    if offers.is_empty() {
        return view! { <p class="muted">"Not offered for download yet."</p> }.into_any();
    }
    view! {
        <ul class="offers" data-testid="offers">
            {offers.into_iter().map(|offer| view! { <Offer offer request /> }).collect_view()}
        </ul>
        <FormError result=buy.value() />
        {move || match request.value().get() {
            Some(Ok(true)) => Some(view! { <p class="notice" role="status" data-testid="access-granted">"Access granted: the files are yours to download."</p> }.into_any()),
            Some(Ok(false)) => Some(view! { <p class="notice" role="status" data-testid="access-requested">"Requested: the publisher will decide, and you will get an e-mail."</p> }.into_any()),
            _ => None,
        }}
        <FieldError result=request.value() field="accept" />
        <FormError result=request.value() beside=&["accept"] />
    }
    .into_any()
}

#[component]
fn Offer(offer: OfferEntry, request: ServerAction<RequestAccess>) -> impl IntoView {
    let OfferEntry {
        id,
        kind,
        description,
        terms,
        terms_sha256,
        action,
        orgs,
    } = offer;
    let org_choice = move |orgs: Vec<String>| {
        (!orgs.is_empty()).then(|| {
            view! {
                <label class="offer-org">
                    "For"
                    <select name="org">
                        {orgs.into_iter().map(|org| view! { <option value=org.clone()>{org.clone()}</option> }).collect_view()}
                    </select>
                </label>
            }
        })
    };
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
            <p class="offer-held" data-testid="offer-held">"You hold this license. " <A href="/licenses">"My licenses"</A></p>
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
            <ActionForm action=request attr:class="offer-buy">
                <input type="hidden" name="offer_id" value=id />
                <input type="hidden" name="terms_sha256" value=terms_sha256 />
                {org_choice(orgs.clone())}
                <label class="checkbox">
                    <input type="checkbox" name="accept" value="yes" required data-testid="accept-terms" />
                    "I accept these terms"
                </label>
                <button type="submit" class="button" data-testid="request-access">"Request access"</button>
            </ActionForm>
        }
        .into_any(),
        OfferAction::Buy { label } => {
            view! {
                // A plain form: the answer is a redirect to the payment provider's page,
                // which the browser must load itself rather than the page's router.
                <form method="post" action=BuyLicense::url() class="offer-buy">
                    <input type="hidden" name="offer_id" value=id />
                    {org_choice(orgs.clone())}
                    <button type="submit" class="button" data-testid="buy">{label}</button>
                </form>
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
