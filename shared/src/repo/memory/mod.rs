//! In-memory fakes of the storage traits, for unit tests of the services
//! (`cargo test -p shared` runs the booking lifecycle against them in
//! milliseconds). They keep the rules the real stores enforce with indexes,
//! locks and scripts (one active booking per seat, one open booking per fan
//! and event, all-or-nothing holds, at most one charge per booking), since a
//! fake that let more through would pass tests the real adapter fails. The
//! behaviour suite in `bookings::suite` runs the same cases against
//! PostgreSQL and Redis, which is what keeps the two honest.
//!
//! Each fake is a cheap clone over shared state, like the real adapters
//! over their pools; a `std` mutex is enough since no lock is held across
//! an await.

mod access;
mod bookings;
mod catalog;
mod gate;
mod notices;
mod publisher;
mod seats;

use std::{
    sync::{Mutex, MutexGuard},
    time::Duration,
};

use chrono::{DateTime, Utc};

pub use access::MemoryAccess;
pub use bookings::MemoryBookings;
pub use catalog::MemoryCatalog;
pub use gate::OpenDoors;
pub use notices::MemoryLedger;
pub use publisher::{RecordingPublisher, Sent};
pub use seats::{MemoryHolds, MemorySeatModel, ModelSeat};

pub(crate) fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A test that panicked mid-change poisons the lock; the state is still
    // what the next assertion should see.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub(crate) fn since(now: DateTime<Utc>, span: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(span)
        .ok()
        .and_then(|span| now.checked_sub_signed(span))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// `span` after `now` (the far future if `span` overflows).
pub(crate) fn after(now: DateTime<Utc>, span: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(span)
        .ok()
        .and_then(|span| now.checked_add_signed(span))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}
