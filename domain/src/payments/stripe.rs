//! The Stripe provider, through async-stripe. Destination charges pay publishers out through
//! Connect; every answer is read with async-stripe's types for the pinned API version.
use std::time::Duration;

use async_trait::async_trait;
use futures::future::BoxFuture;
use miniserde::json::Value;
use stripe::{Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeError};
use stripe_client_core::RequestBuilder;
use stripe_types::miniserde_helpers::FromValueOpt;

use super::provider::{
    CheckoutSession, NewCheckout, NewCustomer, PaymentProvider, PayoutAccount, ProviderError,
    ProviderResult, RawEvent, Subscription,
};
use answers::{map_error, page_of_events, payout_account, session_of, subscription_of};

mod answers;
mod requests;

/// Stripe's own address; tests point the provider at a fake of it instead.
pub const API_BASE: &str = "https://api.stripe.com/";

/// How long one request may take before it counts as a network failure. async-stripe sets
/// none, and a hung connection would hold a buyer's page.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Why the client could not be built: the address is not a URL, or the key cannot be a
/// header. The key itself is never part of the message.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the Stripe client: {0}")]
pub struct StripeSetupError(String);

/// Talks to Stripe with the platform's secret key. Cheap to clone; its `Debug` shows no key.
#[derive(Clone)]
pub struct StripeProvider {
    client: Client,
}

impl std::fmt::Debug for StripeProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StripeProvider")
    }
}

impl StripeProvider {
    /// `api_base` is [`API_BASE`] in production; requests go to `{api_base}v1/…`, so a
    /// missing trailing slash is added.
    pub fn new(secret_key: &str, api_base: &str) -> Result<Self, StripeSetupError> {
        let base = if api_base.ends_with('/') {
            api_base.to_owned()
        } else {
            format!("{api_base}/")
        };
        // async-stripe's connector asks rustls for the process's default backend, which
        // rustls cannot choose while both ring and aws-lc-rs are compiled in. Ring, as for
        // the rest of the server; a default installed before stays.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = ClientBuilder::new(secret_key)
            .url(base)
            .timeout(TIMEOUT)
            .build()
            .map_err(|e| StripeSetupError(e.to_string()))?;
        Ok(Self { client })
    }

    /// Sends `request` and reads the answer as `T`; with a key, Stripe answers a repeat with
    /// the first answer instead of acting twice.
    async fn send<T: FromValueOpt>(
        &self,
        request: RequestBuilder,
        idempotency_key: Option<&str>,
    ) -> ProviderResult<T> {
        let key = idempotency_key
            .map(|key| {
                IdempotencyKey::new(key)
                    .map_err(|e| ProviderError::Refused(format!("idempotency key {key:?}: {e}")))
            })
            .transpose()?;
        let answer = self.execute(request, key).await.map_err(map_error)?;
        T::from_value(answer).ok_or_else(|| {
            ProviderError::Unavailable(format!(
                "Stripe's answer is not a {}",
                std::any::type_name::<T>()
            ))
        })
    }

    /// The one place the client's future is awaited, read as plain JSON and boxed: its type
    /// is deep, and proving it `Send` once per answer type made this crate slow to compile.
    fn execute(
        &self,
        request: RequestBuilder,
        key: Option<IdempotencyKey>,
    ) -> BoxFuture<'_, Result<Value, StripeError>> {
        let mut request = request.customize::<Value>();
        if let Some(key) = key {
            request = request.request_strategy(RequestStrategy::Idempotent(key));
        }
        Box::pin(async move { request.send(&self.client).await })
    }
}

#[async_trait]
impl PaymentProvider for StripeProvider {
    fn name(&self) -> &'static str {
        "stripe"
    }

    async fn create_customer(&self, customer: &NewCustomer<'_>) -> ProviderResult<String> {
        let request = requests::create_customer(customer);
        let created: stripe_shared::Customer = self.send(request, None).await?;
        Ok(created.id.to_string())
    }

    async fn create_checkout(&self, checkout: &NewCheckout<'_>) -> ProviderResult<CheckoutSession> {
        let request = requests::create_checkout(checkout);
        let key = format!("checkout-{}", checkout.order_id);
        session_of(self.send(request, Some(&key)).await?)
    }

    async fn checkout_session(&self, id: &str) -> ProviderResult<CheckoutSession> {
        session_of(self.send(requests::checkout_session(id)?, None).await?)
    }

    async fn subscription(&self, id: &str) -> ProviderResult<Subscription> {
        subscription_of(self.send(requests::subscription(id)?, None).await?)
    }

    async fn billing_portal(&self, customer_id: &str, return_url: &str) -> ProviderResult<String> {
        let request = requests::billing_portal(customer_id, return_url);
        let session: stripe_billing::BillingPortalSession = self.send(request, None).await?;
        Ok(session.url)
    }

    async fn refund(&self, payment_intent: &str, idempotency_key: &str) -> ProviderResult<()> {
        let request = requests::refund(payment_intent);
        let _: stripe_shared::Refund = self.send(request, Some(idempotency_key)).await?;
        Ok(())
    }

    /// Read as raw JSON (`miniserde::json::Value`), not as async-stripe's `Event`: that type
    /// keeps `data.object` but drops the envelope's other fields, and the webhook path wants
    /// an event whole. The body is the event re-serialized: the same JSON, its keys sorted.
    async fn events_since(&self, created_after: i64) -> ProviderResult<Vec<RawEvent>> {
        let mut events: Vec<RawEvent> = Vec::new();
        loop {
            let after = events.last().map(|event| event.id.as_str());
            let request = requests::events(created_after, after);
            let (page, has_more) = page_of_events(self.send(request, None).await?)?;
            let empty = page.is_empty();
            events.extend(page);
            if !has_more || empty {
                break;
            }
        }
        // Stripe lists newest first.
        events.reverse();
        Ok(events)
    }

    async fn create_payout_account(
        &self,
        email: Option<&str>,
        idempotency_key: &str,
    ) -> ProviderResult<String> {
        let request = requests::create_payout_account(email);
        let account: stripe_shared::Account = self.send(request, Some(idempotency_key)).await?;
        Ok(account.id.to_string())
    }

    async fn payout_onboarding_link(
        &self,
        account_id: &str,
        refresh_url: &str,
        return_url: &str,
    ) -> ProviderResult<String> {
        let request = requests::payout_onboarding_link(account_id, refresh_url, return_url);
        let link: stripe_connect::AccountLink = self.send(request, None).await?;
        Ok(link.url)
    }

    async fn payout_account(&self, account_id: &str) -> ProviderResult<PayoutAccount> {
        Ok(payout_account(
            self.send(requests::payout_account(account_id)?, None)
                .await?,
        ))
    }
}
