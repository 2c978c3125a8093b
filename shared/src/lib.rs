//! The library every Lambda function links: configuration, errors and their
//! HTTP mapping, auth, domain types, storage adapters, Kafka and telemetry.

pub mod accounts;
pub mod analytics;
pub mod auth;
pub mod aws_access;
pub mod bookings;
pub mod catalog;
pub mod config;
pub mod consumers;
pub mod domain;
pub mod error;
pub mod health;
pub mod http;
pub mod idempotency;
pub mod kafka;
pub mod mail;
pub mod messages;
pub mod msk;
pub mod notifier;
pub mod payments;
pub mod repo;
pub mod runtime;
#[cfg(feature = "dev")]
pub mod scratch;
pub mod secrets;
#[cfg(feature = "dev")]
pub mod seed;
pub mod setup;
pub mod state;
pub mod telemetry;
pub mod tickets;
pub mod waiting_room;
pub mod waitlist;

pub use error::ApiError;
pub use state::State;
