//! The fields of a new offer, shared by `/new` (a listing's first offer) and the listing's
//! settings page (further offers). The server checks them all and names the wrong one.
use leptos::prelude::*;

use crate::components::forms::FieldError;
use crate::error::AppError;
use crate::wire::OfferChoices;

/// `keep` gives back what the person typed into a field when their post failed without
/// JavaScript (see `forms::kept`).
#[component]
pub fn OfferFields(
    #[prop(into)] result: Signal<Option<Result<(), AppError>>>,
    choices: OfferChoices,
    keep: fn(&str) -> Option<String>,
) -> impl IntoView {
    let OfferChoices {
        licenses,
        currencies,
    } = choices;
    let chosen = move |field: &str, value: &str| keep(field).as_deref() == Some(value);
    let kind = keep("kind");
    view! {
        <fieldset class="offer-fields" data-testid="offer-fields">
            <legend>"License"</legend>
            <label>
                "Kind"
                // Never a silent default: how a model is licensed is the publisher's choice.
                <select name="kind" required data-testid="offer-kind">
                    <option value="" disabled selected=kind.is_none()>"Choose how it is licensed…"</option>
                    {[
                        ("open", "Open license (free)"),
                        ("gated", "Gated (free after accepting terms)"),
                        ("paid", "Paid once"),
                        ("subscription", "Subscription"),
                    ].into_iter().map(|(value, label)| view! {
                        <option value=value selected=kind.as_deref() == Some(value)>{label}</option>
                    }).collect_view()}
                </select>
            </label>
            <FieldError result field="kind" />
            <label>
                "Open license " <span class="muted">"(open only)"</span>
                <select name="spdx" data-testid="offer-spdx">
                    <option value="">"—"</option>
                    {licenses.into_iter().map(|(id, name)| {
                        let selected = chosen("spdx", &id);
                        view! { <option value=id.clone() selected=selected>{format!("{name} ({id})")}</option> }
                    }).collect_view()}
                </select>
            </label>
            <FieldError result field="spdx" />
            <div class="form-row">
                <label>
                    "Price " <span class="muted">"(paid and subscription)"</span>
                    <input type="text" name="price" inputmode="decimal" placeholder="9.00" autocomplete="off"
                        data-testid="offer-price" value=keep("price") />
                </label>
                <label>
                    "Currency"
                    <select name="currency">
                        {currencies.into_iter().map(|c| {
                            let selected = chosen("currency", &c);
                            view! { <option value=c.clone() selected=selected>{c.clone()}</option> }
                        }).collect_view()}
                    </select>
                </label>
            </div>
            <FieldError result field="price" />
            <FieldError result field="currency" />
            <label>
                "For"
                <select name="seat">
                    <option value="individual">"one person"</option>
                    <option value="organization" selected=chosen("seat", "organization")>"every member of an organization"</option>
                </select>
            </label>
            <FieldError result field="seat" />
            <label>
                "Versions covered " <span class="muted">"(paid once)"</span>
                <select name="covers">
                    <option value="published">"the versions published so far"</option>
                    <option value="major" selected=chosen("covers", "major")>"every version up to the next major (SemVer)"</option>
                </select>
            </label>
            <FieldError result field="covers" />
            <label>
                "Billed " <span class="muted">"(subscription)"</span>
                <select name="interval">
                    <option value="month">"monthly"</option>
                    <option value="year" selected=chosen("interval", "year")>"yearly"</option>
                </select>
            </label>
            <FieldError result field="interval" />
            <label>
                "Requests " <span class="muted">"(gated)"</span>
                <select name="approval">
                    <option value="manual">"wait for my approval"</option>
                    <option value="instant" selected=chosen("approval", "instant")>"are granted on accepting the terms"</option>
                </select>
            </label>
            <FieldError result field="approval" />
            <label>
                "Terms " <span class="muted">"(shown before anyone accepts or pays)"</span>
                <textarea name="terms" rows="5" data-testid="offer-terms">{keep("terms")}</textarea>
            </label>
            <FieldError result field="terms" />
        </fieldset>
    }
}
