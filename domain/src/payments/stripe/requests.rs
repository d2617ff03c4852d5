//! The requests the provider sends, built with async-stripe's parameter types and kept
//! apart from sending them: the large parameter structs stay out of the `async fn`s.
use std::collections::HashMap;

use stripe::StripeRequest;
use stripe_billing::billing_portal_session::CreateBillingPortalSession;
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionLineItemsPriceData,
    CreateCheckoutSessionLineItemsPriceDataRecurring,
    CreateCheckoutSessionLineItemsPriceDataRecurringInterval as RecurringInterval,
    CreateCheckoutSessionPaymentIntentData, CreateCheckoutSessionPaymentIntentDataTransferData,
    CreateCheckoutSessionSubscriptionData, CreateCheckoutSessionSubscriptionDataTransferData,
    ProductData, RetrieveCheckoutSession,
};
use stripe_client_core::{RequestBuilder, StripeMethod};
use stripe_connect::account::{
    CreateAccount, CreateAccountCapabilities, CreateAccountCapabilitiesCardPayments,
    CreateAccountCapabilitiesTransfers, CreateAccountType, RetrieveAccount,
};
use stripe_connect::account_link::{CreateAccountLink, CreateAccountLinkType};
use stripe_core::customer::CreateCustomer;
use stripe_core::event::ListEvent;
use stripe_core::refund::CreateRefund;
use stripe_shared::CheckoutSessionMode;
use stripe_types::{Currency, RangeQueryTs};

use crate::payments::provider::{
    BillingInterval, CheckoutMode, NewCheckout, NewCustomer, ProviderError, ProviderResult,
};
use crate::payments::shapes::{ACCOUNT_ID_KEY, ORDER_ID_KEY};

/// How many events to ask for per page (Stripe's maximum).
const EVENTS_PER_PAGE: i64 = 100;

fn one_entry(key: &str, value: impl ToString) -> HashMap<String, String> {
    HashMap::from([(key.to_owned(), value.to_string())])
}

/// An id that goes into a path: Stripe's ids are word characters, and anything else would
/// change which resource is asked for.
fn path_segment(id: &str) -> ProviderResult<&str> {
    if !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(id)
    } else {
        Err(ProviderError::Refused(format!("{id:?} is not a Stripe id")))
    }
}

pub(super) fn create_customer(customer: &NewCustomer<'_>) -> RequestBuilder {
    let mut create = CreateCustomer::new()
        .name(customer.name)
        .metadata(one_entry(ACCOUNT_ID_KEY, customer.account_id));
    if let Some(email) = customer.email {
        create = create.email(email);
    }
    create.build()
}

/// The order id goes on the session and on the payment or subscription Checkout creates, so
/// their own events (refunds, disputes, renewals) name the order too. With a payout, the
/// sale is a destination charge: the publisher's account gets it less the platform's fee.
pub(super) fn create_checkout(checkout: &NewCheckout<'_>) -> RequestBuilder {
    let order = one_entry(ORDER_ID_KEY, checkout.order_id);
    let create = CreateCheckoutSession::new()
        .customer(checkout.customer_id)
        .line_items(vec![line_item(checkout)])
        .success_url(checkout.success_url)
        .cancel_url(checkout.cancel_url)
        .metadata(order.clone());
    let create = match checkout.mode {
        CheckoutMode::Payment => {
            let mut data = CreateCheckoutSessionPaymentIntentData::new();
            data.metadata = Some(order);
            if let Some(payout) = &checkout.payout {
                data.application_fee_amount = Some(payout.fee_minor);
                data.transfer_data = Some(CreateCheckoutSessionPaymentIntentDataTransferData::new(
                    payout.destination,
                ));
            }
            create
                .mode(CheckoutSessionMode::Payment)
                .payment_intent_data(data)
        }
        CheckoutMode::Subscription { .. } => {
            let mut data = CreateCheckoutSessionSubscriptionData::new();
            data.metadata = Some(order);
            if let Some(payout) = &checkout.payout {
                data.application_fee_percent = Some(payout.fee_percent);
                data.transfer_data = Some(CreateCheckoutSessionSubscriptionDataTransferData::new(
                    payout.destination,
                ));
            }
            create
                .mode(CheckoutSessionMode::Subscription)
                .subscription_data(data)
        }
    };
    create.build()
}

/// The one line item of a checkout: the price is given inline, so no Product or Price has
/// to be kept in step with the catalog.
fn line_item(checkout: &NewCheckout<'_>) -> CreateCheckoutSessionLineItems {
    let currency = checkout
        .currency
        .parse::<Currency>()
        .unwrap_or_else(|never| match never {});
    let mut price = CreateCheckoutSessionLineItemsPriceData::new(currency);
    price.unit_amount = Some(checkout.amount_minor);
    price.product_data = Some(ProductData::new(checkout.product_name));
    if let CheckoutMode::Subscription { interval } = checkout.mode {
        price.recurring = Some(CreateCheckoutSessionLineItemsPriceDataRecurring::new(
            match interval {
                BillingInterval::Month => RecurringInterval::Month,
                BillingInterval::Year => RecurringInterval::Year,
            },
        ));
    }
    let mut item = CreateCheckoutSessionLineItems::new();
    item.price_data = Some(price);
    item.quantity = Some(1);
    item
}

pub(super) fn checkout_session(id: &str) -> ProviderResult<RequestBuilder> {
    Ok(RetrieveCheckoutSession::new(path_segment(id)?).build())
}

/// A plain GET: the billing crate's `subscription` module would add its whole request
/// surface to every build for one read without parameters.
pub(super) fn subscription(id: &str) -> ProviderResult<RequestBuilder> {
    Ok(RequestBuilder::new(
        StripeMethod::Get,
        format!("/subscriptions/{}", path_segment(id)?),
    ))
}

pub(super) fn billing_portal(customer_id: &str, return_url: &str) -> RequestBuilder {
    CreateBillingPortalSession::new()
        .customer(customer_id)
        .return_url(return_url)
        .build()
}

/// A full refund that also takes back the publisher's transfer and the platform's fee.
pub(super) fn refund(payment_intent: &str) -> RequestBuilder {
    CreateRefund::new()
        .payment_intent(payment_intent)
        .reverse_transfer(true)
        .refund_application_fee(true)
        .build()
}

/// One page of events created at or after `created_after`, after the event `after`.
pub(super) fn events(created_after: i64, after: Option<&str>) -> RequestBuilder {
    let mut list = ListEvent::new()
        .created(RangeQueryTs::gte(created_after))
        .limit(EVENTS_PER_PAGE);
    if let Some(after) = after {
        list = list.starting_after(after);
    }
    list.build()
}

/// An Express account that can take card payments and receive transfers.
pub(super) fn create_payout_account(email: Option<&str>) -> RequestBuilder {
    let mut capabilities = CreateAccountCapabilities::new();
    capabilities.card_payments = Some(CreateAccountCapabilitiesCardPayments {
        requested: Some(true),
    });
    capabilities.transfers = Some(CreateAccountCapabilitiesTransfers {
        requested: Some(true),
    });
    let mut create = CreateAccount::new()
        .type_(CreateAccountType::Express)
        .capabilities(capabilities);
    if let Some(email) = email {
        create = create.email(email);
    }
    create.build()
}

pub(super) fn payout_onboarding_link(
    account_id: &str,
    refresh_url: &str,
    return_url: &str,
) -> RequestBuilder {
    CreateAccountLink::new(account_id, CreateAccountLinkType::AccountOnboarding)
        .refresh_url(refresh_url)
        .return_url(return_url)
        .build()
}

pub(super) fn payout_account(account_id: &str) -> ProviderResult<RequestBuilder> {
    Ok(RetrieveAccount::new(path_segment(account_id)?).build())
}
