//! The use cases. Each takes what it stores and calls as traits
//! (`repo::*`, `kafka::Publisher`, `payments::PaymentProvider`,
//! `notifier::Mailer`), which `State` wires to the real adapters and the
//! unit tests to fakes; handlers call these and map the result.

pub mod account_links;
pub mod accounts;
pub mod analytics;
pub mod bookings;
pub mod catalog;
pub mod consumers;
pub mod door_staff;
pub mod idempotency;
pub mod notifier;
pub mod sessions;
pub mod tickets;
pub mod waiting_room;
pub mod waitlist;
