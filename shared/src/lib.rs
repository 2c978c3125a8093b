//! The library every Lambda function links, in layers (docs/architecture.md):
//!
//! - `domain/`: types and rules, no I/O, errors of its own;
//! - `services/`: the use cases (book, pay, queue, scan, mail, count…),
//!   taking storage and the outside world as traits;
//! - `repo/`: those traits for storage, their PostgreSQL, Redis and Mongo
//!   adapters, and in-memory fakes for tests;
//! - at the root, the edges: Lambda glue (`http`, `runtime`, `error`'s HTTP
//!   mapping, `auth`), the clients of the outside world (`kafka`, `msk`,
//!   `mail`, `payments`, `secrets`), and the wiring (`config`, `state`).
//!
//! The services are re-exported at the root (`shared::bookings`, …), the
//! path every function uses.

pub mod domain;
pub mod repo;
pub mod services;

pub use services::{
    account_links, accounts, analytics, bookings, catalog, consumers, door_staff, idempotency, notifier, sessions,
    tickets, waiting_room, waitlist,
};

pub mod auth;
pub mod aws_access;
pub mod config;
pub mod error;
pub mod health;
pub mod http;
pub mod kafka;
pub mod mail;
pub mod messages;
pub mod msk;
pub mod payments;
pub mod runtime;
#[cfg(feature = "dev")]
pub mod scratch;
pub mod secrets;
#[cfg(feature = "dev")]
pub mod seed;
pub mod setup;
pub mod state;
pub mod telemetry;

pub use error::ApiError;
pub use state::State;
