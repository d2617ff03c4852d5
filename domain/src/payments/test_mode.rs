//! The built-in test-mode provider: a local stand-in for Stripe that keeps its objects, in
//! Stripe's shapes, in the database and sends its events — signed — through the same webhook
//! code as Stripe's. Used only when configured, or on an install that only listens on
//! loopback and has no Stripe key, so a fresh install demonstrates a whole purchase offline.
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::entities::test_payment_object as object;
use crate::payments::provider::*;
use crate::payments::shapes::{self, new_id};
use crate::payments::webhooks::checkout_session;
use crate::state::AppState;

/// What the buyer chooses on the test checkout page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestOutcome {
    /// The card is charged.
    Succeed,
    /// The card is declined: the session stays open, as on Stripe's page.
    Decline,
    /// A payment that settles later (a bank debit): completed, unpaid until `settle`.
    Pending,
}

pub struct TestMode {
    db: DatabaseConnection,
    public_url: String,
    events: mpsc::UnboundedSender<String>,
}

/// Sent with each session: what Stripe would know from the line items and payment data.
const REQUEST: &str = "bazaar.checkout_request";

impl TestMode {
    /// The provider and the stream of event bodies it sends; hand the receiver to
    /// [`deliver_events`].
    pub fn new(
        db: DatabaseConnection,
        public_url: &str,
    ) -> (Self, mpsc::UnboundedReceiver<String>) {
        let (events, receiver) = mpsc::unbounded_channel();
        let mode = TestMode {
            db,
            public_url: public_url.trim_end_matches('/').to_owned(),
            events,
        };
        (mode, receiver)
    }

    async fn load(&self, id: &str) -> ProviderResult<Value> {
        let row = object::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| ProviderError::Refused(format!("No such object: '{id}'")))?;
        serde_json::from_str(&row.body).map_err(|e| ProviderError::Unavailable(e.to_string()))
    }

    /// Stores `body` under its `id` (replacing it), or only when absent.
    async fn store(&self, body: &Value, replace: bool) -> ProviderResult<()> {
        let id = body["id"].as_str().unwrap_or_default().to_owned();
        let kind = body["object"].as_str().unwrap_or_default().to_owned();
        let row = object::ActiveModel {
            id: Set(id),
            object: Set(kind),
            body: Set(body.to_string()),
            created: Set(Utc::now().timestamp()),
        };
        let mut conflict = OnConflict::column(object::Column::Id);
        if replace {
            conflict.update_column(object::Column::Body);
        } else {
            conflict.do_nothing();
        }
        object::Entity::insert(row)
            .on_conflict(conflict.to_owned())
            .exec_without_returning(&self.db)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Records an event about `object` and sends it to the webhook.
    async fn emit(&self, event_type: &str, object: Value) -> ProviderResult<()> {
        let id = new_id("evt_test_");
        let event = shapes::event(&shapes::EventParts {
            id: &id,
            event_type,
            created: Utc::now().timestamp(),
            object,
            previous_attributes: None,
            request: None,
            account: None,
        });
        self.store(&event, false).await?;
        let _ = self.events.send(event.to_string()); // no deliverer: reconciliation finds it
        Ok(())
    }

    /// A session and what it sells, for the test checkout page.
    pub async fn describe(&self, session_id: &str) -> ProviderResult<(CheckoutSession, String)> {
        let request = self.load(&format!("{session_id}:request")).await?;
        let session = self.checkout_session(session_id).await?;
        Ok((
            session,
            request["product"].as_str().unwrap_or_default().to_owned(),
        ))
    }

    /// Where the buyer goes after paying, and after giving up.
    pub async fn return_urls(&self, session_id: &str) -> ProviderResult<(String, String)> {
        let session = self.load(session_id).await?;
        let url = |field: &str| session[field].as_str().unwrap_or("/").to_owned();
        Ok((url("success_url"), url("cancel_url")))
    }

    /// The account a customer was created for.
    pub async fn customer_account(&self, customer: &str) -> ProviderResult<Option<i64>> {
        let body = self.load(customer).await?;
        Ok(body["metadata"][shapes::ACCOUNT_ID_KEY]
            .as_str()
            .and_then(|id| id.parse().ok()))
    }

    /// The buyer's choice on the test checkout page.
    pub async fn pay(
        &self,
        session_id: &str,
        outcome: TestOutcome,
    ) -> ProviderResult<CheckoutSession> {
        let mut session = self.load(session_id).await?;
        let current =
            checkout_session(&session).map_err(|e| ProviderError::Refused(e.to_string()))?;
        if current.status != SessionStatus::Open {
            return Err(ProviderError::Refused(
                "this checkout session is no longer open".into(),
            ));
        }
        if outcome == TestOutcome::Decline {
            return Ok(current);
        }
        let request = self.load(&format!("{session_id}:request")).await?;
        let now = Utc::now().timestamp();
        let amount = session["amount_total"].as_i64().unwrap_or(0);
        let currency = session["currency"].as_str().unwrap_or("usd").to_owned();
        let customer = session["customer"].as_str().map(str::to_owned);
        session["status"] = json!("complete");
        session["url"] = Value::Null;
        session["payment_status"] = json!(match outcome {
            TestOutcome::Pending => "unpaid",
            _ => "paid",
        });
        if session["mode"] == "subscription" {
            let id = new_id("sub_test_");
            let interval = BillingInterval::parse(request["interval"].as_str().unwrap_or("month"))
                .unwrap_or(BillingInterval::Month);
            let subscription = shapes::subscription(&shapes::SubscriptionParts {
                id: &id,
                customer: customer.as_deref().unwrap_or_default(),
                status: SubscriptionStatus::Active,
                interval,
                amount,
                currency: &currency,
                current_period_start: now,
                current_period_end: period_end(now, interval),
                cancel_at_period_end: false,
                canceled_at: None,
                ended_at: None,
                created: now,
                order_id: current.order_id,
                transfer_destination: request["destination"].as_str(),
                application_fee_percent: request["fee_percent"].as_f64(),
            });
            self.store(&subscription, true).await?;
            session["subscription"] = json!(id);
            self.emit("customer.subscription.created", subscription)
                .await?;
        } else {
            let suffix = new_id("");
            let (intent, charge_id) = (format!("pi_test_{suffix}"), format!("ch_test_{suffix}"));
            let charge = shapes::charge(&shapes::ChargeParts {
                id: &charge_id,
                payment_intent: &intent,
                customer: customer.as_deref(),
                amount,
                amount_refunded: 0,
                currency: &currency,
                disputed: false,
                created: now,
                transfer_destination: request["destination"].as_str(),
                application_fee_amount: request["fee_minor"].as_i64(),
            });
            self.store(&charge, true).await?;
            session["payment_intent"] = json!(intent);
        }
        self.store(&session, true).await?;
        self.emit("checkout.session.completed", session.clone())
            .await?;
        checkout_session(&session).map_err(|e| ProviderError::Refused(e.to_string()))
    }

    /// A pending payment settles: paid, or failed.
    pub async fn settle(&self, session_id: &str, succeeded: bool) -> ProviderResult<()> {
        let mut session = self.load(session_id).await?;
        if session["status"] != "complete" || session["payment_status"] != "unpaid" {
            return Err(ProviderError::Refused(
                "no payment of this session is pending".into(),
            ));
        }
        if succeeded {
            session["payment_status"] = json!("paid");
        }
        self.store(&session, true).await?;
        let kind = if succeeded {
            "checkout.session.async_payment_succeeded"
        } else {
            "checkout.session.async_payment_failed"
        };
        self.emit(kind, session).await
    }

    /// The customer cancels: access lasts until the period ends, as Stripe's portal does.
    pub async fn cancel_subscription(&self, id: &str) -> ProviderResult<()> {
        let mut subscription = self.load(id).await?;
        subscription["cancel_at_period_end"] = json!(true);
        subscription["canceled_at"] = json!(Utc::now().timestamp());
        self.store(&subscription, true).await?;
        self.emit("customer.subscription.updated", subscription)
            .await
    }

    /// Moves the clock to the end of the subscription's period: a cancelled one ends, any
    /// other renews for another period.
    pub async fn advance_to_period_end(&self, id: &str) -> ProviderResult<()> {
        let mut subscription = self.load(id).await?;
        let end = subscription["items"]["data"][0]["current_period_end"]
            .as_i64()
            .unwrap_or(0);
        if subscription["cancel_at_period_end"] == true {
            subscription["status"] = json!("canceled");
            subscription["ended_at"] = json!(end);
            self.store(&subscription, true).await?;
            return self
                .emit("customer.subscription.deleted", subscription)
                .await;
        }
        let item = &mut subscription["items"]["data"][0];
        let interval = BillingInterval::parse(item["plan"]["interval"].as_str().unwrap_or("month"))
            .unwrap_or(BillingInterval::Month);
        item["current_period_start"] = json!(end);
        item["current_period_end"] = json!(period_end(end, interval));
        self.store(&subscription, true).await?;
        self.emit("customer.subscription.updated", subscription)
            .await
    }

    /// The customer's subscriptions, for the test billing page.
    pub async fn subscriptions_of(&self, customer: &str) -> ProviderResult<Vec<Subscription>> {
        let rows = object::Entity::find()
            .filter(object::Column::Object.eq("subscription"))
            .order_by_desc(object::Column::Created)
            .all(&self.db)
            .await
            .map_err(unavailable)?;
        Ok(rows
            .iter()
            .filter_map(|row| serde_json::from_str::<Value>(&row.body).ok())
            .filter(|body| body["customer"] == customer)
            .filter_map(|body| subscription_of(&body))
            .collect())
    }
}

fn unavailable(err: sea_orm::DbErr) -> ProviderError {
    ProviderError::Unavailable(err.to_string())
}

fn period_end(start: i64, interval: BillingInterval) -> i64 {
    let days = match interval {
        BillingInterval::Month => 30,
        BillingInterval::Year => 365,
    };
    start + days * 24 * 3600
}

/// A subscription from its JSON in Stripe's shape (the period is on its first item).
pub fn subscription_of(body: &Value) -> Option<Subscription> {
    Some(Subscription {
        id: body["id"].as_str()?.to_owned(),
        status: SubscriptionStatus::parse(body["status"].as_str()?)?,
        current_period_end: body["items"]["data"][0]["current_period_end"].as_i64(),
        cancel_at_period_end: body["cancel_at_period_end"].as_bool().unwrap_or(false),
    })
}

#[async_trait]
impl PaymentProvider for TestMode {
    fn name(&self) -> &'static str {
        "test"
    }

    async fn create_customer(&self, customer: &NewCustomer<'_>) -> ProviderResult<String> {
        let id = new_id("cus_test_");
        let body = shapes::customer(
            &id,
            customer.name,
            customer.email,
            Some(customer.account_id),
            Utc::now().timestamp(),
        );
        self.store(&body, false).await?;
        Ok(id)
    }

    async fn create_checkout(&self, checkout: &NewCheckout<'_>) -> ProviderResult<CheckoutSession> {
        // The idempotency key names the session made for it: the same order, the same session.
        let key = format!("idempotency:checkout-{}", checkout.order_id);
        if let Ok(earlier) = self.load(&key).await {
            return self
                .checkout_session(earlier["session"].as_str().unwrap_or_default())
                .await;
        }
        let id = new_id("cs_test_");
        let url = format!("{}/test-checkout/{id}", self.public_url);
        let now = Utc::now().timestamp();
        let session = shapes::checkout_session(&shapes::CheckoutSessionParts {
            id: &id,
            mode: checkout.mode,
            status: SessionStatus::Open,
            payment_status: PaymentStatus::Unpaid,
            order_id: Some(checkout.order_id),
            customer: Some(checkout.customer_id),
            payment_intent: None,
            subscription: None,
            amount_total: checkout.amount_minor,
            currency: checkout.currency,
            success_url: &checkout.success_url.replace("{CHECKOUT_SESSION_ID}", &id),
            cancel_url: checkout.cancel_url,
            url: Some(&url),
            created: now,
            expires_at: now + 24 * 3600,
        });
        let request = json!({
            "id": format!("{id}:request"),
            "object": REQUEST,
            "product": checkout.product_name,
            "interval": match checkout.mode {
                CheckoutMode::Subscription { interval } => Some(interval.as_str()),
                CheckoutMode::Payment => None,
            },
            "destination": checkout.payout.as_ref().map(|p| p.destination),
            "fee_minor": checkout.payout.as_ref().map(|p| p.fee_minor),
            "fee_percent": checkout.payout.as_ref().map(|p| p.fee_percent),
        });
        self.store(&request, false).await?;
        self.store(&session, false).await?;
        self.store(
            &json!({ "id": key, "object": "idempotency_key", "session": id }),
            false,
        )
        .await?;
        let winner = self.load(&key).await?; // a concurrent retry may have stored first
        self.checkout_session(winner["session"].as_str().unwrap_or_default())
            .await
    }

    async fn checkout_session(&self, id: &str) -> ProviderResult<CheckoutSession> {
        checkout_session(&self.load(id).await?).map_err(|e| ProviderError::Refused(e.to_string()))
    }

    async fn subscription(&self, id: &str) -> ProviderResult<Subscription> {
        subscription_of(&self.load(id).await?)
            .ok_or_else(|| ProviderError::Refused(format!("{id} is not a subscription")))
    }

    async fn billing_portal(&self, customer_id: &str, return_url: &str) -> ProviderResult<String> {
        let back: String = url::form_urlencoded::byte_serialize(return_url.as_bytes()).collect();
        Ok(format!(
            "{}/test-billing/{customer_id}?return_url={back}",
            self.public_url
        ))
    }

    async fn refund(&self, payment_intent: &str, _idempotency_key: &str) -> ProviderResult<()> {
        let charge_id = payment_intent.replacen("pi_", "ch_", 1);
        let mut charge = self.load(&charge_id).await?;
        if charge["refunded"] == true {
            return Ok(()); // idempotent, as a retried refund request is at Stripe
        }
        charge["refunded"] = json!(true);
        charge["amount_refunded"] = charge["amount"].clone();
        self.store(&charge, true).await?;
        self.emit("charge.refunded", charge).await
    }

    async fn events_since(&self, created_after: i64) -> ProviderResult<Vec<RawEvent>> {
        let rows = object::Entity::find()
            .filter(object::Column::Object.eq("event"))
            .filter(object::Column::Created.gte(created_after))
            .order_by_asc(object::Column::Created)
            .all(&self.db)
            .await
            .map_err(unavailable)?;
        Ok(rows
            .into_iter()
            .map(|row| RawEvent {
                id: row.id,
                body: row.body,
            })
            .collect())
    }

    async fn create_payout_account(
        &self,
        email: Option<&str>,
        _idempotency_key: &str,
    ) -> ProviderResult<String> {
        let id = new_id("acct_test_");
        self.store(
            &shapes::account(&id, email, false, false, Utc::now().timestamp()),
            false,
        )
        .await?;
        Ok(id)
    }

    async fn payout_onboarding_link(
        &self,
        account_id: &str,
        _refresh_url: &str,
        return_url: &str,
    ) -> ProviderResult<String> {
        // Onboarding is simulated: the account can take payouts at once.
        let mut account = self.load(account_id).await?;
        account["charges_enabled"] = json!(true);
        account["details_submitted"] = json!(true);
        self.store(&account, true).await?;
        Ok(return_url.to_owned())
    }

    async fn payout_account(&self, account_id: &str) -> ProviderResult<PayoutAccount> {
        let account = self.load(account_id).await?;
        Ok(PayoutAccount {
            id: account_id.to_owned(),
            charges_enabled: account["charges_enabled"].as_bool().unwrap_or(false),
            details_submitted: account["details_submitted"].as_bool().unwrap_or(false),
        })
    }
}

/// Delivers the test-mode provider's events to the webhook code, signed as Stripe signs
/// them, retrying a failed delivery a few times as Stripe would (reconciliation catches the
/// rest).
pub async fn deliver_events(state: AppState, mut events: mpsc::UnboundedReceiver<String>) {
    while let Some(body) = events.recv().await {
        let state = state.clone();
        tokio::spawn(async move {
            for attempt in 0..5u32 {
                let header = crate::payments::signature::sign(
                    &state.payments.webhook_secret,
                    Utc::now().timestamp(),
                    body.as_bytes(),
                );
                match crate::payments::webhooks::receive(&state, Some(&header), body.as_bytes())
                    .await
                {
                    Ok(_) => return,
                    Err(err) => {
                        tracing::warn!(attempt, error = %err, "test-mode event not accepted yet");
                        tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
                    }
                }
            }
        });
    }
}
