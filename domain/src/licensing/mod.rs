//! Licences: what a buyer holds, and the signed key that proves it offline.
pub mod keys;
