//! Server functions: each checks its caller and input, then calls one `domain` service.
pub mod accounts;
pub mod catalog;

pub use accounts::*;
pub use catalog::*;
