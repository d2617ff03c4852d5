//! What happens on Stripe's side without Bazaar asking: a buyer paying, a bank settling, a
//! refund from the Dashboard, a dispute, a subscription renewing or ending, a publisher
//! finishing onboarding. Each records the events Stripe would send.
use domain::payments::provider::{CheckoutMode, PaymentStatus, SessionStatus, SubscriptionStatus};
use domain::payments::shapes;
use serde_json::json;

use super::state::{now, Charge, Dispute, Refund, State, Subscription};
use super::wire::ApiError;

fn session<'a>(state: &'a mut State, id: &str) -> &'a mut super::state::Session {
    state
        .sessions
        .get_mut(id)
        .unwrap_or_else(|| panic!("the fake has no checkout session {id}"))
}

/// The buyer pays: by card (`paid`), or by a method that settles later (`!paid`, see
/// [`settle`]). Subscription mode starts the subscription; payment mode charges the card.
pub fn complete(state: &mut State, id: &str, paid: bool) {
    let checkout = session(state, id).clone();
    assert_eq!(checkout.status, SessionStatus::Open, "{id} is not open");
    let created = now();
    match checkout.mode {
        CheckoutMode::Payment => {
            let payment_intent = shapes::new_id("pi_");
            session(state, id).payment_intent = Some(payment_intent.clone());
            if paid {
                charge(state, id, &payment_intent);
            }
        }
        CheckoutMode::Subscription { interval } => {
            let mut subscription = Subscription {
                id: shapes::new_id("sub_"),
                customer: checkout
                    .customer
                    .clone()
                    .unwrap_or_else(|| shapes::new_id("cus_")),
                status: if paid {
                    SubscriptionStatus::Active
                } else {
                    SubscriptionStatus::Incomplete
                },
                interval,
                amount: checkout.amount,
                currency: checkout.currency.clone(),
                current_period_start: created,
                current_period_end: 0,
                cancel_at_period_end: false,
                canceled_at: None,
                ended_at: None,
                created,
                order_id: checkout.order_id,
                destination: checkout.destination.clone(),
            };
            subscription.current_period_end = subscription.period_after(created);
            state.emit("customer.subscription.created", subscription.json(), None);
            session(state, id).subscription = Some(subscription.id.clone());
            state
                .subscriptions
                .insert(subscription.id.clone(), subscription);
        }
    }
    let session = session(state, id);
    session.status = SessionStatus::Complete;
    session.payment_status = if paid {
        PaymentStatus::Paid
    } else {
        PaymentStatus::Unpaid
    };
    let json = session.json();
    state.emit("checkout.session.completed", json, None);
}

fn charge(state: &mut State, session_id: &str, payment_intent: &str) {
    let checkout = session(state, session_id).clone();
    let charge = Charge {
        id: shapes::new_id("ch_"),
        payment_intent: payment_intent.to_owned(),
        customer: checkout.customer,
        amount: checkout.amount,
        amount_refunded: 0,
        currency: checkout.currency,
        disputed: false,
        created: now(),
        destination: checkout.destination,
    };
    state.charges.insert(payment_intent.to_owned(), charge);
}

/// A delayed payment settles (`succeeded`) or fails, after [`complete`] without pay.
pub fn settle(state: &mut State, id: &str, succeeded: bool) {
    let checkout = session(state, id).clone();
    assert!(
        checkout.status == SessionStatus::Complete
            && checkout.payment_status == PaymentStatus::Unpaid,
        "{id} has no payment waiting to settle"
    );
    if let Some(subscription) = &checkout.subscription {
        let status = if succeeded {
            SubscriptionStatus::Active
        } else {
            SubscriptionStatus::IncompleteExpired
        };
        set_status(state, subscription, status);
    }
    if succeeded {
        if let Some(payment_intent) = &checkout.payment_intent {
            charge(state, id, payment_intent);
        }
        session(state, id).payment_status = PaymentStatus::Paid;
    }
    let json = session(state, id).json();
    let event_type = if succeeded {
        "checkout.session.async_payment_succeeded"
    } else {
        "checkout.session.async_payment_failed"
    };
    state.emit(event_type, json, None);
}

/// The buyer never pays and the session times out.
pub fn expire(state: &mut State, id: &str) {
    let session = session(state, id);
    assert_eq!(session.status, SessionStatus::Open, "{id} is not open");
    session.status = SessionStatus::Expired;
    let json = session.json();
    state.emit("checkout.session.expired", json, None);
}

/// A full refund of the payment, through the API or the Dashboard. The transfer to the
/// publisher is reversed only when asked (`reverse_transfer`), as Stripe does.
pub fn refund(
    state: &mut State,
    payment_intent: &str,
    reverse_transfer: bool,
    refund_application_fee: bool,
) -> Result<Refund, ApiError> {
    let charge = state
        .charges
        .get_mut(payment_intent)
        .ok_or_else(|| ApiError::missing("payment_intent", payment_intent, "payment_intent"))?;
    if charge.amount_refunded >= charge.amount {
        return Err(ApiError::coded(
            None,
            "charge_already_refunded",
            &format!("Charge {} has already been refunded.", charge.id),
        ));
    }
    let refund = Refund {
        id: shapes::new_id("re_"),
        payment_intent: payment_intent.to_owned(),
        charge: charge.id.clone(),
        amount: charge.amount - charge.amount_refunded,
        currency: charge.currency.clone(),
        transfer_reversal: (reverse_transfer && charge.destination.is_some())
            .then(|| shapes::new_id("trr_")),
        refunded_application_fee: refund_application_fee,
        created: now(),
    };
    charge.amount_refunded = charge.amount;
    let charge = charge.json();
    state.refunds.insert(refund.id.clone(), refund.clone());
    state.emit("charge.refunded", charge, None);
    state.emit("refund.created", refund.json(), None);
    Ok(refund)
}

/// The buyer's bank disputes the payment.
pub fn dispute(state: &mut State, payment_intent: &str, reason: &str) {
    let charge = state
        .charges
        .get_mut(payment_intent)
        .unwrap_or_else(|| panic!("the fake has no payment {payment_intent}"));
    charge.disputed = true;
    let dispute = Dispute {
        id: shapes::new_id("dp_"),
        charge: charge.id.clone(),
        payment_intent: payment_intent.to_owned(),
        amount: charge.amount,
        currency: charge.currency.clone(),
        reason: reason.to_owned(),
        status: "needs_response".into(),
        created: now(),
    };
    let json = dispute.json();
    state.disputes.insert(dispute.id.clone(), dispute);
    state.emit("charge.dispute.created", json, None);
}

/// The dispute is decided: `won` keeps the money with the seller.
pub fn close_dispute(state: &mut State, id: &str, won: bool) {
    let dispute = state
        .disputes
        .get_mut(id)
        .unwrap_or_else(|| panic!("the fake has no dispute {id}"));
    let previous = json!({ "status": dispute.status });
    dispute.status = if won { "won" } else { "lost" }.into();
    let json = dispute.json();
    state.emit("charge.dispute.closed", json, Some(previous));
}

fn subscription<'a>(state: &'a mut State, id: &str) -> &'a mut Subscription {
    state
        .subscriptions
        .get_mut(id)
        .unwrap_or_else(|| panic!("the fake has no subscription {id}"))
}

/// The subscription moves to `status` (a renewal failing makes it `past_due`, Stripe
/// giving up makes it `unpaid` or `canceled`).
pub fn set_status(state: &mut State, id: &str, status: SubscriptionStatus) {
    let subscription = subscription(state, id);
    let previous = json!({ "status": subscription.status.as_str() });
    subscription.status = status;
    if status == SubscriptionStatus::Canceled {
        subscription.ended_at = Some(now());
        let json = subscription.json();
        state.emit("customer.subscription.deleted", json, None);
    } else {
        let json = subscription.json();
        state.emit("customer.subscription.updated", json, Some(previous));
    }
}

/// The customer cancels: at the end of the paid period (it stays active until then), or
/// at once.
pub fn cancel(state: &mut State, id: &str, at_period_end: bool) {
    let subscription = subscription(state, id);
    subscription.canceled_at = Some(now());
    if at_period_end {
        let previous =
            json!({ "cancel_at_period_end": false, "cancel_at": null, "canceled_at": null });
        subscription.cancel_at_period_end = true;
        let json = subscription.json();
        state.emit("customer.subscription.updated", json, Some(previous));
        return;
    }
    set_status(state, id, SubscriptionStatus::Canceled);
}

/// The period ends: a subscription set to cancel ends, any other renews for one more
/// interval.
pub fn advance(state: &mut State, id: &str) {
    let subscription = subscription(state, id);
    if subscription.cancel_at_period_end {
        subscription.status = SubscriptionStatus::Canceled;
        subscription.ended_at = Some(subscription.current_period_end);
        let json = subscription.json();
        state.emit("customer.subscription.deleted", json, None);
        return;
    }
    let previous = json!({ "items": subscription.json()["items"] });
    subscription.current_period_start = subscription.current_period_end;
    subscription.current_period_end = subscription.period_after(subscription.current_period_start);
    let json = subscription.json();
    state.emit("customer.subscription.updated", json, Some(previous));
}

/// The publisher finishes Express onboarding: the account can take charges.
pub fn onboard(state: &mut State, id: &str) {
    let account = state
        .accounts
        .get_mut(id)
        .unwrap_or_else(|| panic!("the fake has no account {id}"));
    account.onboarded = true;
    let json = account.json();
    let previous =
        json!({ "charges_enabled": false, "details_submitted": false, "payouts_enabled": false });
    state.emit_on("account.updated", json, Some(previous), Some(id));
}
