//! End-to-end and handler-level tests against the real local stack
//! (`make test` starts it). One binary, so the runtime, pools and gateway
//! are shared.
// The handlers' futures, awaited in-process, nest deeper than the
// compiler's default layout limit.
#![recursion_limit = "256"]

mod accounts;
mod auth;
mod bookings;
mod common;
mod consumers;
mod elasticache;
mod events;
mod faults;
mod gateway;
mod health;
mod hostile;
mod lifecycle;
mod limits;
mod notifications;
mod parity;
mod payments;
mod sales;
mod sessions;
mod tickets;
mod waiting_room;
mod waitlist;
