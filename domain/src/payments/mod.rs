//! Taking money: the provider interface, webhook signatures, orders and checkout, the events
//! providers send, and the one idempotent fulfilment every path goes through.
pub mod orders;
pub mod payouts;
pub mod provider;
pub mod sales;
pub mod shapes;
pub mod signature;
pub mod stripe;
pub mod test_mode;
pub mod webhooks;

use std::sync::Arc;

pub use provider::{PaymentProvider, ProviderError, ProviderResult};

/// How this install takes payments.
#[derive(Clone)]
pub struct Payments {
    /// None: payments are not configured, and priced offers say so instead of selling.
    pub provider: Option<Arc<dyn PaymentProvider>>,
    /// The secret the provider signs webhook events with.
    pub webhook_secret: String,
    /// The platform's share of each sale, in basis points (1000 = 10 %).
    pub platform_fee_bps: u32,
    /// The same provider when it is the built-in test mode, for its checkout and billing
    /// pages.
    pub test_mode: Option<Arc<test_mode::TestMode>>,
}

impl Payments {
    pub fn not_configured() -> Self {
        Payments {
            provider: None,
            webhook_secret: String::new(),
            platform_fee_bps: 0,
            test_mode: None,
        }
    }

    pub fn provider(&self) -> crate::error::DomainResult<&Arc<dyn PaymentProvider>> {
        self.provider
            .as_ref()
            .ok_or_else(|| crate::error::DomainError::Unavailable {
                message: "payments are not configured on this site yet".into(),
                retry_after_seconds: 3600,
            })
    }

    /// The platform's fee on `amount_minor`, rounded down.
    pub fn fee_minor(&self, amount_minor: i64) -> i64 {
        amount_minor * i64::from(self.platform_fee_bps) / 10_000
    }
}

impl std::fmt::Debug for Payments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Payments")
            .field("provider", &self.provider.as_ref().map(|p| p.name()))
            .field("platform_fee_bps", &self.platform_fee_bps)
            .finish_non_exhaustive()
    }
}

impl From<ProviderError> for crate::error::DomainError {
    fn from(err: ProviderError) -> Self {
        match err {
            // Logged with the operator's detail by the caller's error handling; the buyer
            // is told only that payment could not start.
            ProviderError::Refused(detail) => {
                crate::error::DomainError::Internal(format!("payment provider refused: {detail}"))
            }
            ProviderError::Unavailable(_) => crate::error::DomainError::Unavailable {
                message: "the payment provider did not answer; try again in a minute".into(),
                retry_after_seconds: 60,
            },
        }
    }
}
