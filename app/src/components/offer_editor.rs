//! A listing's offers on its settings page: each active one with a way to withdraw it, and a
//! form for a new one. The server checks every field and names the one that is wrong.
use leptos::prelude::*;

use crate::api::{listing_offers, AddOffer, WithdrawOffer};
use crate::components::forms::{kept, refusal, FormDone, FormError};
use crate::components::offer_fields::OfferFields;
use crate::wire::{ListingOffers, OFFER_FIELDS};

#[component]
pub fn OfferEditor(owner: String, slug: String) -> impl IntoView {
    let add = ServerAction::<AddOffer>::new();
    let withdraw = ServerAction::<WithdrawOffer>::new();
    let offers = Resource::new(
        {
            let (owner, slug) = (owner.clone(), slug.clone());
            move || {
                (
                    owner.clone(),
                    slug.clone(),
                    add.version().get(),
                    withdraw.version().get(),
                )
            }
        },
        |(owner, slug, _, _)| listing_offers(owner, slug),
    );
    view! {
        <section class="panel" aria-labelledby="offers-heading" data-testid="offer-editor">
            <h2 id="offers-heading">"Licenses offered"</h2>
            <p class="muted">
                "What people may get this model under. Changing an offer never changes licenses already granted: withdraw it and add the new one."
            </p>
            <FormDone action=withdraw message="Withdrawn: nobody can take it up any more." />
            <FormError result=withdraw.value() />
            <Transition fallback=|| view! { <p class="loading">"Loading offers…"</p> }>
                {move || {
                    let (owner, slug) = (owner.clone(), slug.clone());
                    Suspend::new(async move {
                        match offers.await {
                            Ok(offers) => view! { <Offers offers owner slug add withdraw /> }.into_any(),
                            Err(err) => refusal(err),
                        }
                    })
                }}
            </Transition>
        </section>
    }
}

#[component]
fn Offers(
    offers: ListingOffers,
    owner: String,
    slug: String,
    add: ServerAction<AddOffer>,
    withdraw: ServerAction<WithdrawOffer>,
) -> impl IntoView {
    let ListingOffers { offers, choices } = offers;
    let rows = if offers.is_empty() {
        view! { <p class="notice" data-testid="no-offers">"Nothing is offered: the model shows as unavailable. Add an offer below."</p> }.into_any()
    } else {
        let (owner, slug) = (owner.clone(), slug.clone());
        view! {
            <ul class="offers" data-testid="offers-now">
                {offers.into_iter().map(|offer| {
                    let (owner, slug) = (owner.clone(), slug.clone());
                    view! {
                        <li class="offer">
                            <p class="offer-what">{offer.description}</p>
                            {(!offer.terms.is_empty()).then(|| view! { <p class="terms-text">{offer.terms}</p> })}
                            <ActionForm action=withdraw attr:class="inline-form">
                                <input type="hidden" name="owner" value=owner />
                                <input type="hidden" name="slug" value=slug />
                                <input type="hidden" name="offer_id" value=offer.id />
                                <button type="submit" class="button button-secondary button-small" data-testid="withdraw-offer">"Withdraw"</button>
                            </ActionForm>
                        </li>
                    }
                }).collect_view()}
            </ul>
        }.into_any()
    };
    view! {
        {rows}
        <h3>"Add an offer"</h3>
        <ActionForm action=add attr:class="stack-form" attr:data-testid="add-offer">
            <input type="hidden" name="owner" value=owner />
            <input type="hidden" name="slug" value=slug />
            <OfferFields result=add.value() choices keep={kept::<AddOffer>} />
            <FormError result=add.value() beside=OFFER_FIELDS />
            <FormDone action=add message="Offer added." />
            <button type="submit" class="button" data-testid="save-offer">"Add offer"</button>
        </ActionForm>
    }
}
