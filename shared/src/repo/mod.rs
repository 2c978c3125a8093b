//! Storage boundary. The services talk to these small traits (the booking
//! core's are in `booking_ports`); the PostgreSQL, Redis and Mongo versions
//! live beside them, one file per store and job, and the in-memory fakes the
//! unit tests use are in `memory` (tests and the `dev` feature only). Row ↔
//! domain conversion stays inside each adapter.

use std::{collections::HashMap, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{
    domain::{
        event::{Event, EventId, SeatStatus},
        onsale::{LineSnapshot, OnSale, QueueSnapshot, QueueToken},
        user::{Email, NewUser, User},
        waitlist::Entry,
    },
    error::ApiError,
};

pub mod booking_ports;
#[cfg(any(test, feature = "dev"))]
pub mod memory;
pub mod mongo_events;
pub mod pg_access;
pub mod pg_bookings;
pub mod pg_checkins;
mod pg_codec;
pub mod pg_notices;
pub mod pg_onsales;
pub mod pg_sales;
pub mod pg_staff;
pub mod pg_users;
pub mod pg_waitlist;
pub mod redis_conn;
pub mod redis_queue;
pub mod redis_seats;
pub mod redis_throttle;

/// PostgreSQL's code for a unique constraint violation: how every adapter
/// learns that an index (one open booking per fan, one active booking per
/// seat, one live waiting-list entry, one account per e-mail) said no.
const UNIQUE_VIOLATION: &str = "23505";

pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.code().as_deref() == Some(UNIQUE_VIOLATION))
}

/// A stored user with the hash needed to check a password.
#[derive(Debug, Clone)]
pub struct UserCredentials {
    pub user: User,
    pub password_hash: String,
    /// Whether the owner proved the address (booking mail waits for it).
    pub email_verified: bool,
}

#[async_trait]
pub trait UserStore: Send + Sync {
    /// Inserts the user; an email that is already registered is a 409.
    async fn insert(&self, user: &NewUser, password_hash: &str) -> Result<User, ApiError>;
    async fn find_by_email(&self, email: &Email) -> Result<Option<UserCredentials>, ApiError>;
    /// The user with their new role (it applies from their next login);
    /// `None` for an unknown id.
    async fn set_role(&self, user: uuid::Uuid, role: crate::domain::user::Role) -> Result<Option<User>, ApiError>;
    async fn find_by_id(&self, user: uuid::Uuid) -> Result<Option<UserCredentials>, ApiError>;
    /// Records that the owner of `user` proved `email`; false if the account
    /// is gone or no longer has that address.
    async fn mark_verified(&self, user: uuid::Uuid, email: &str) -> Result<bool, ApiError>;
    /// Sets `new_hash` only if the stored hash is still `old_hash` (so one
    /// reset link sets one password, however many use it at once), and
    /// counts the address proven; false if the hash had moved on.
    async fn replace_password(&self, user: uuid::Uuid, old_hash: &str, new_hash: &str) -> Result<bool, ApiError>;
}

/// What a privileged call checks of an account against the store, rather
/// than trusting the role its token was issued with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountAccess {
    pub role: crate::domain::user::Role,
    /// Raised by a role change or a logout; tokens issued with a lower one
    /// are refused.
    pub token_version: i64,
}

#[async_trait]
pub trait AccessStore: Send + Sync {
    /// `None` when the account does not exist (any more).
    async fn access(&self, user: uuid::Uuid) -> Result<Option<AccountAccess>, ApiError>;
    /// Raises the account's token version, refusing every token issued
    /// before; the new version, or `None` for an unknown account.
    async fn revoke_tokens(&self, user: uuid::Uuid) -> Result<Option<i64>, ApiError>;
}

/// Which staff accounts may admit tickets at which event's doors.
#[async_trait]
pub trait EventStaff: Send + Sync {
    /// Idempotent; true if the assignment is new.
    async fn assign(&self, event: &EventId, user: uuid::Uuid, by: uuid::Uuid) -> Result<bool, ApiError>;
    /// True if there was an assignment to remove.
    async fn remove(&self, event: &EventId, user: uuid::Uuid) -> Result<bool, ApiError>;
    async fn is_assigned(&self, event: &EventId, user: uuid::Uuid) -> Result<bool, ApiError>;
}

/// Login attempts, counted before the password is checked (so parallel
/// guesses cannot pass the limit) per email from one client address, per
/// email from everywhere (a much higher ceiling: a guesser elsewhere must not
/// be able to lock the owner out), and per address.
#[async_trait]
pub trait LoginThrottle: Send + Sync {
    /// Counts this attempt; how long to wait if a limit is reached.
    async fn attempt(&self, email: &Email, client: &str) -> Result<Option<Duration>, ApiError>;
    /// The password matched: the attempt no longer counts as a failure.
    async fn succeeded(&self, email: &Email, client: &str) -> Result<(), ApiError>;
}

/// Requests per client address per minute on one route.
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// `TooManyRequests` (429 with Retry-After) once `client` has made more
    /// than `per_minute` requests to `route` this minute; 0 means no limit.
    async fn check(&self, route: &str, client: &str, per_minute: u32) -> Result<(), ApiError>;
}

/// One budget of declined charges: at most `max` declines under `key`
/// within `window`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclineLimit {
    pub key: String,
    pub max: u32,
    pub window: std::time::Duration,
}

/// Declined charges counted per budget (a booking, a fan, a client address).
#[async_trait]
pub trait DeclineCounter: Send + Sync {
    /// How long until another charge may be tried, when any budget is spent.
    async fn wait(&self, limits: &[DeclineLimit]) -> Result<Option<std::time::Duration>, ApiError>;
    /// Counts one declined charge against each budget.
    async fn declined(&self, limits: &[DeclineLimit]) -> Result<(), ApiError>;
}

/// A page of the event list, with typed filters only.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    pub category: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub text: Option<String>,
    pub offset: u64,
    pub limit: u32,
}

#[async_trait]
pub trait EventCatalog: Send + Sync {
    /// Stores the event and its seats; true if it was new. Idempotent: an
    /// existing event is kept and only missing seats are added.
    async fn insert(&self, event: &Event) -> Result<bool, ApiError>;
    async fn get(&self, id: &EventId) -> Result<Option<Event>, ApiError>;
    /// The page of events and the total matching the filters.
    async fn list(&self, query: &EventQuery) -> Result<(Vec<Event>, u64), ApiError>;
}

/// Live seat status: every seat that is not available, by label. Seats not
/// in the map are available.
pub type LiveSeats = HashMap<String, SeatStatus>;

#[async_trait]
pub trait SeatBoard: Send + Sync {
    async fn live(&self, event: &EventId) -> Result<LiveSeats, ApiError>;
    async fn live_many(&self, events: &[EventId]) -> Result<Vec<LiveSeats>, ApiError>;
}

/// Seat holds: the fast first line against overselling. PostgreSQL's partial
/// unique index is the last line.
#[async_trait]
pub trait SeatHolds: Send + Sync {
    /// Holds all `labels` for `booking` until `expires_at_ms`, or none of
    /// them; returns the labels that someone else holds or has booked.
    async fn hold(
        &self,
        event: &EventId,
        booking: &str,
        labels: &[String],
        expires_at_ms: i64,
    ) -> Result<Vec<String>, ApiError>;
    /// Frees the seats `booking` holds or booked; returns how many.
    async fn release(&self, event: &EventId, booking: &str, labels: &[String]) -> Result<u32, ApiError>;
    /// Marks the seats booked by `booking`; returns labels booked by others.
    async fn confirm(&self, event: &EventId, booking: &str, labels: &[String]) -> Result<Vec<String>, ApiError>;
}

/// One booking's request for its seats in the read model.
pub struct SeatClaim<'a> {
    pub event: &'a EventId,
    pub booking: &'a str,
    pub labels: &'a [String],
}

/// A seat a claim wanted that the read model gives to another booking
/// (`holder`; `None` when the seat names nobody or does not exist).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakenSeat {
    pub label: String,
    pub holder: Option<String>,
}

/// The seat read model the booking consumers keep (Mongo / DocumentDB):
/// each seat available, held by a booking or booked by it. Every write is
/// conditional on the seat's current owner, so a replayed message finds its
/// work done and changes nothing.
#[async_trait]
pub trait SeatReadModel: Send + Sync {
    /// Holds each claim's seats for its booking, all or none per claim;
    /// claim by claim, the seats someone else has (empty: held). Seats a
    /// claim's own booking holds already count as held.
    async fn hold_seats(&self, claims: &[SeatClaim<'_>]) -> Result<Vec<Vec<TakenSeat>>, ApiError>;
    /// Marks the seats booked by `booking`: its own holds, and seats still
    /// available. Returns how many it booked.
    async fn book_seats(&self, event: &EventId, booking: &str, labels: &[String]) -> Result<u64, ApiError>;
    /// Frees the seats `booking` holds or booked; others' seats are untouched.
    async fn release_seats(&self, event: &EventId, booking: &str, labels: &[String]) -> Result<u64, ApiError>;
}

/// Door check-ins: admits a ticket once.
#[async_trait]
pub trait CheckInStore: Send + Sync {
    /// Admits `ticket` at `gate` if its booking is CONFIRMED and it was
    /// never admitted; else says why not.
    async fn check_in(
        &self,
        ticket: &crate::domain::ticket::TicketClaims,
        gate: &str,
        staff: uuid::Uuid,
    ) -> Result<crate::domain::ticket::CheckInOutcome, ApiError>;
}

/// On-sale settings, durable (PostgreSQL).
#[async_trait]
pub trait OnSaleStore: Send + Sync {
    async fn put(&self, sale: &OnSale, by: uuid::Uuid) -> Result<(), ApiError>;
    async fn get(&self, event: &EventId) -> Result<Option<OnSale>, ApiError>;
}

/// What the queue store needs of an on-sale and its event to move the line.
#[derive(Debug, Clone, Copy)]
pub struct LineRules {
    pub now_ms: i64,
    pub opens_at_ms: i64,
    pub per_minute: u32,
    pub pass_ttl_ms: i64,
    /// Seats of the event, to tell when every one is sold or held.
    pub total_seats: u32,
}

/// The waiting room's live state: places in line and admissions. Every call
/// first moves the line to `rules.now_ms` (admissions are computed from the
/// rate when someone asks, never pushed by a ticking process), and is one
/// round trip.
#[async_trait]
pub trait QueueStore: Send + Sync {
    /// A place for `user`: the one they already have, or a new one (drawn at
    /// random at the opening if they join before it, else the next in line).
    /// A place whose pass lapsed unused is replaced by a new one at the back.
    async fn join(
        &self,
        rules: &LineRules,
        user: uuid::Uuid,
        token: &QueueToken,
        draw: u64,
    ) -> Result<(QueueToken, QueueSnapshot), ApiError>;
    /// The state of `token`'s place; `None` if it is not `user`'s.
    async fn status(
        &self,
        rules: &LineRules,
        user: uuid::Uuid,
        token: &QueueToken,
    ) -> Result<Option<QueueSnapshot>, ApiError>;
    /// Marks the pass of `place` used, so its slot is never handed on; false
    /// if the pass has lapsed.
    async fn spend_pass(&self, rules: &LineRules, event: &EventId, place: u64) -> Result<bool, ApiError>;
    async fn line(&self, rules: &LineRules, event: &EventId) -> Result<LineSnapshot, ApiError>;
}

/// A delivery's answer when it asks to send a notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeClaim {
    /// This delivery sends it; `attempt` names the claim when it is settled.
    Ours { attempt: i32 },
    /// Sent, refused or skipped already.
    Done,
    /// Another delivery is sending it now (its lease has not lapsed).
    Busy,
}

/// How a claimed notice ended.
#[derive(Debug, Clone, Copy)]
pub enum NoticeEnd<'a> {
    Sent {
        recipient: &'a str,
        provider_id: &'a str,
    },
    Refused {
        recipient: &'a str,
        error: &'a str,
    },
    Skipped(&'a str),
    /// Not sent; the next delivery may claim it at once.
    Retry(&'a str),
}

/// The notification ledger: one entry per booking and kind of message.
#[async_trait]
pub trait NoticeLedger: Send + Sync {
    async fn claim(
        &self,
        booking: uuid::Uuid,
        kind: crate::domain::notice::NoticeKind,
        lease: Duration,
    ) -> Result<NoticeClaim, ApiError>;
    /// Records how claim `attempt` ended; a no-op if that claim lapsed and
    /// another delivery holds the notice now.
    async fn settle(
        &self,
        booking: uuid::Uuid,
        kind: crate::domain::notice::NoticeKind,
        attempt: i32,
        end: NoticeEnd<'_>,
    ) -> Result<(), ApiError>;
}

/// One offer to make: `entry`'s fan gets `selection` as booking `booking`,
/// held until `expires_at` (the claim window).
#[derive(Debug, Clone, Copy)]
pub struct Offer<'a> {
    pub entry: &'a Entry,
    pub booking: uuid::Uuid,
    pub selection: &'a crate::domain::booking::SeatSelection,
    pub currency: &'a str,
    pub expires_at: DateTime<Utc>,
}

/// What became of an offer.
#[derive(Debug)]
pub enum OfferMade {
    /// The booking holds the seats for the fan; its messages are to relay.
    Made { booking: crate::domain::booking::Booking, outbox: Vec<booking_ports::OutboxRow> },
    /// The entry is no longer waiting (the fan left, or another offer won).
    EntryGone,
    /// PostgreSQL refused the booking: a seat went to someone else, or the
    /// fan already has an open booking for the event. Nothing was written.
    Refused(booking_ports::CreateConflict),
}

/// The waiting lists of sold-out events, one line per event, oldest first.
#[async_trait]
pub trait WaitlistStore: Send + Sync {
    /// The fan's live entry (waiting or offered), or a new one at the back;
    /// true if it is new.
    async fn join(&self, event: &EventId, user: uuid::Uuid, seats: u8) -> Result<(Entry, bool), ApiError>;
    /// The fan's newest entry for the event, live or not.
    async fn latest(&self, event: &EventId, user: uuid::Uuid) -> Result<Option<Entry>, ApiError>;
    /// 1 + the waiting entries ahead of `entry`.
    async fn position(&self, entry: &Entry) -> Result<u64, ApiError>;
    /// Takes a waiting fan off the line; an offered entry is returned as it
    /// is (an offer is declined by cancelling its booking); `None` if the
    /// fan has no live entry.
    async fn leave(&self, event: &EventId, user: uuid::Uuid) -> Result<Option<Entry>, ApiError>;
    /// The head of the line: up to `limit` waiting entries, oldest first.
    async fn waiting(&self, event: &EventId, limit: u32) -> Result<Vec<Entry>, ApiError>;
    /// The offer held by `booking` is over (cancelled, lapsed or failed):
    /// its entry leaves the line. `None` if `booking` was no live offer.
    async fn pass_offer(&self, booking: uuid::Uuid) -> Result<Option<Entry>, ApiError>;
    async fn offer(&self, offer: &Offer<'_>) -> Result<OfferMade, ApiError>;
}
