//! The yapit gateway: accounts, documents, the model catalogue; next, synthesis.

pub mod auth;
pub mod catalog;
pub mod config;
pub mod documents;
pub mod error;
pub mod health;
pub mod startup;
pub mod telemetry;
