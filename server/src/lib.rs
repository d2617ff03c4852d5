//! The `bazaar` server: configuration, start-up and the HTTP surface.
#![recursion_limit = "256"]
pub mod api;
pub mod assets;
pub mod authenticate;
pub mod config;
pub mod file_transfer;
pub mod form_posts;
pub mod license_verify;
pub mod payments;
pub mod pull;
pub mod push;
pub mod routes;
pub mod security;
pub mod seed_data;
pub mod startup;
pub mod telemetry;
pub mod test_checkout;
