//! A listing's offers on its settings page: each active one with a way to withdraw it, and a
//! form for a new one. The server checks every field and names the one that is wrong.
use leptos::prelude::*;

use crate::api::{listing_offers, AddOffer, WithdrawOffer};
use crate::components::forms::{refusal, FieldError, FormDone, FormError};
use crate::wire::ListingOffers;

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
            <h2 id="offers-heading">"Licences offered"</h2>
            <p class="muted">
                "What people may get this model under. Changing an offer never changes licences already granted: withdraw it and add the new one."
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
    let ListingOffers {
        offers,
        licenses,
        currencies,
    } = offers;
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
            <label>
                "Kind"
                <select name="kind" required>
                    <option value="open">"Open licence (free)"</option>
                    <option value="gated">"Gated (free after accepting terms)"</option>
                    <option value="paid">"Paid once"</option>
                    <option value="subscription">"Subscription"</option>
                </select>
            </label>
            <FieldError result=add.value() field="kind" />
            <label>
                "Open licence " <span class="muted">"(open only)"</span>
                <select name="spdx">
                    <option value="">"—"</option>
                    {licenses.into_iter().map(|(id, name)| view! { <option value=id.clone()>{format!("{name} ({id})")}</option> }).collect_view()}
                </select>
            </label>
            <FieldError result=add.value() field="spdx" />
            <div class="form-row">
                <label>
                    "Price " <span class="muted">"(paid and subscription)"</span>
                    <input type="text" name="price" inputmode="decimal" placeholder="9.00" autocomplete="off" />
                </label>
                <label>
                    "Currency"
                    <select name="currency">
                        {currencies.into_iter().map(|c| view! { <option value=c.clone()>{c.clone()}</option> }).collect_view()}
                    </select>
                </label>
            </div>
            <FieldError result=add.value() field="price" />
            <FieldError result=add.value() field="currency" />
            <label>
                "For"
                <select name="seat">
                    <option value="individual">"one person"</option>
                    <option value="organization">"every member of an organization"</option>
                </select>
            </label>
            <FieldError result=add.value() field="seat" />
            <label>
                "Versions covered " <span class="muted">"(paid once)"</span>
                <select name="covers">
                    <option value="published">"the versions published so far"</option>
                    <option value="major">"every version up to the next major (SemVer)"</option>
                </select>
            </label>
            <FieldError result=add.value() field="covers" />
            <label>
                "Billed " <span class="muted">"(subscription)"</span>
                <select name="interval">
                    <option value="month">"monthly"</option>
                    <option value="year">"yearly"</option>
                </select>
            </label>
            <FieldError result=add.value() field="interval" />
            <label>
                "Requests " <span class="muted">"(gated)"</span>
                <select name="approval">
                    <option value="manual">"wait for my approval"</option>
                    <option value="instant">"are granted on accepting the terms"</option>
                </select>
            </label>
            <FieldError result=add.value() field="approval" />
            <label>
                "Terms " <span class="muted">"(shown before anyone accepts or pays)"</span>
                <textarea name="terms" rows="5"></textarea>
            </label>
            <FieldError result=add.value() field="terms" />
            <FormError result=add.value() beside=&["kind", "spdx", "price", "currency", "seat", "covers", "interval", "approval", "terms"] />
            <FormDone action=add message="Offer added." />
            <button type="submit" class="button" data-testid="save-offer">"Add offer"</button>
        </ActionForm>
    }
}
