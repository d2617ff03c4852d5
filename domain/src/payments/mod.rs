//! Taking money: the provider interface, webhook signatures, and (in submodules) orders,
//! events and fulfilment.
pub mod provider;
pub mod shapes;
pub mod signature;
pub mod stripe;

pub use provider::{PaymentProvider, ProviderError, ProviderResult};
