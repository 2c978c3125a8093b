//! The booking core's storage boundary: what the booking service, the
//! consumers and the Idempotency-Key guard ask of storage, one small trait
//! per job, and the answers they get. PostgreSQL implements them in
//! `pg_bookings/` (one file per trait), the in-memory fakes in `memory/bookings.rs`;
//! the behaviour suite in `bookings::suite` runs against both.
//!
//! Which status may be cancelled or paid is the domain's rule
//! (`Booking::on_cancel`, `Booking::on_pay`); an adapter applies it under
//! whatever lock its store has, so two racing requests see one answer each.

use std::{collections::HashMap, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::{
    domain::{
        booking::{Booking, BookingStatus, SeatSelection, TooLate},
        event::EventId,
    },
    error::ApiError,
    kafka::Envelope,
    messages::BookingMessage,
    payments::{Charge, Refund},
};

/// A message written in the same commit as the change it announces, to be
/// published after it (the transactional outbox).
#[derive(Debug, Clone)]
pub struct OutboxRow {
    pub id: Uuid,
    pub topic: String,
    pub key: String,
    pub payload: Value,
}

impl OutboxRow {
    /// The row announcing `message` on `topic`, keyed by event.
    pub fn announcing(topic: &str, message: &BookingMessage) -> Result<OutboxRow, ApiError> {
        let envelope = Envelope::new(topic, message);
        Ok(OutboxRow {
            id: envelope.id,
            topic: topic.to_owned(),
            key: message.event_id.clone(),
            payload: serde_json::to_value(&envelope).map_err(|e| ApiError::Internal(e.into()))?,
        })
    }
}

/// What became of a new booking: created (with the outbox rows to relay,
/// its own and those of blockers it expired), or refused.
#[derive(Debug)]
pub enum CreateOutcome {
    Created { booking: Booking, outbox: Vec<OutboxRow> },
    Refused(CreateConflict),
}

/// Why a booking could not be created.
#[derive(Debug)]
pub enum CreateConflict {
    /// The user already has an open booking for this event.
    OpenBookingExists,
    /// These seats are in other active bookings (who holds each, so the
    /// Redis screen can be repaired when it missed them).
    SeatsTaken(Vec<SeatOwner>),
}

pub use crate::domain::purchase::PurchaseHistory;

/// An active booking's claim on a seat, as the store of record has it.
#[derive(Debug, Clone)]
pub struct SeatOwner {
    pub label: String,
    pub booking: Uuid,
    pub status: BookingStatus,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug)]
pub enum CancelOutcome {
    NotFound,
    Unchanged(Booking),
    NotCancellable(BookingStatus),
    TooLate(TooLate),
    Cancelled { booking: Booking, outbox: Vec<OutboxRow>, refund: Option<OwedRefund> },
}

#[derive(Debug)]
pub struct FailOutcome {
    pub booking: Option<Booking>,
    pub outbox: Vec<OutboxRow>,
    pub refund: Option<OwedRefund>,
}

/// Whether a pay may call the provider (`begin_payment`).
#[derive(Debug)]
pub enum PaymentStart {
    Started {
        booking: Booking,
        payment: Uuid,
    },
    NotFound,
    AlreadyPaid,
    /// Another pay of this booking is waiting for the provider.
    InProgress,
    NotPayable(BookingStatus),
}

/// What the provider's answer made of a pay (`finish_payment`).
#[derive(Debug)]
pub enum PayOutcome {
    Confirmed {
        booking: Booking,
        outbox: Vec<OutboxRow>,
    },
    Declined(&'static str),
    ProviderUnavailable,
    /// Approved, but the booking had closed meanwhile: the charge is owed back.
    ChargedTooLate {
        status: BookingStatus,
        refund: OwedRefund,
    },
}

/// A refund recorded as owed (REFUND_PENDING) and leased to whoever got it
/// back, who asks the provider and then calls `refund_done` or
/// `refund_failed`. The sweeper takes over one whose caller died.
#[derive(Debug, Clone)]
pub struct OwedRefund {
    pub payment: Uuid,
    pub refund: Refund,
}

#[derive(Debug)]
pub enum IdempotencyClaim {
    /// First use of the key: go ahead, then `complete_key`.
    Claimed,
    /// The same request was completed before: replay its response.
    Replay { status: u16, body: Vec<u8> },
    /// The key was used for a different request.
    Mismatch,
    /// The first request with this key is still running (within its lease).
    InProgress,
}

/// The bookings themselves: every change commits with its seats' claims,
/// its outbox rows and its audit entry, or not at all.
#[async_trait]
pub trait BookingRepo: Send + Sync {
    /// Records a PENDING booking of `selection` unless a seat is in another
    /// active booking or the user has an open booking for the event. Open
    /// bookings in the way but past their deadline are expired first (lazy
    /// expiry), so a seat the map shows as free can always be booked.
    async fn create(
        &self,
        id: Uuid,
        user: Uuid,
        selection: &SeatSelection,
        currency: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<CreateOutcome, ApiError>;
    /// Seats in the user's open (unlapsed) or paid bookings at the event,
    /// which of `labels` they cancelled or let lapse within `look_back`, and
    /// when their holds there lapsed within it.
    async fn purchase_history(
        &self,
        user: Uuid,
        event: &EventId,
        labels: &[String],
        look_back: Duration,
    ) -> Result<PurchaseHistory, ApiError>;
    async fn find(&self, id: Uuid) -> Result<Option<Booking>, ApiError>;
    /// The user's booking; someone else's is reported as absent.
    async fn find_for_user(&self, user: Uuid, id: Uuid) -> Result<Option<Booking>, ApiError> {
        Ok(self.find(id).await?.filter(|b| b.user_id == user))
    }
    /// A page of the user's bookings, newest first, and how many match. The
    /// filter applies to the effective status (an open booking past its
    /// deadline is EXPIRED).
    async fn list_for_user(
        &self,
        user: Uuid,
        status: Option<BookingStatus>,
        limit: u32,
        offset: u64,
    ) -> Result<(Vec<Booking>, u64), ApiError>;
    /// Which of `labels` are in an active booking now, and whose.
    async fn active_seats(&self, event: &EventId, labels: &[String]) -> Result<Vec<SeatOwner>, ApiError>;
    /// The effective statuses of `ids` at `now`; unknown ids are absent.
    async fn effective_statuses(
        &self,
        ids: &[Uuid],
        now: DateTime<Utc>,
    ) -> Result<HashMap<Uuid, BookingStatus>, ApiError>;
    /// Cancels the user's booking (`Booking::on_cancel`, with whether the
    /// door admitted any of its tickets read under the booking's row lock,
    /// the lock a check-in takes too, so a scan and a cancel never both
    /// win); a paid one's payment becomes an owed refund in the same commit.
    async fn cancel(&self, user: Uuid, id: Uuid, event_starts_at: DateTime<Utc>) -> Result<CancelOutcome, ApiError>;
    /// seat.reserved: PENDING → RESERVED for each of `ids`, anything else
    /// left alone (a redelivery is harmless). Returns how many changed.
    async fn mark_reserved(&self, ids: &[Uuid]) -> Result<u64, ApiError>;
    /// seat.reservation_failed: the booking fails and frees its seats; a
    /// paid one's payment is owed back.
    async fn mark_failed(&self, id: Uuid, reason: &str) -> Result<FailOutcome, ApiError>;
    /// Expires up to `limit` open bookings past their deadline.
    async fn expire_due(&self, limit: u32) -> Result<(Vec<Booking>, Vec<OutboxRow>), ApiError>;
}

/// Charges and refunds. A pay is recorded before the provider is called and
/// settled after, with no lock held while the provider decides.
#[async_trait]
pub trait PaymentRecords: Send + Sync {
    /// Records a PROCESSING charge if the booking is payable
    /// (`Booking::on_pay`) and has no charge yet.
    async fn begin_payment(&self, user: Uuid, id: Uuid, card_last4: &str) -> Result<PaymentStart, ApiError>;
    /// Applies the provider's answer: an approved charge confirms a booking
    /// that is still payable, or is owed back if it closed meanwhile.
    async fn finish_payment(&self, booking: &Booking, payment: Uuid, charge: Charge) -> Result<PayOutcome, ApiError>;
    /// Owed refunds that are due, each leased for `lease`; charges left in
    /// PROCESSING for `abandoned_after` become owed refunds first.
    async fn claim_due_refunds(
        &self,
        limit: u32,
        lease: Duration,
        abandoned_after: Duration,
    ) -> Result<Vec<OwedRefund>, ApiError>;
    async fn refund_done(&self, payment: Uuid) -> Result<(), ApiError>;
    /// Stays owed; tried again after a back-off.
    async fn refund_failed(&self, payment: Uuid, error: &str) -> Result<(), ApiError>;
}

/// The outbox as the sweeper sees it.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Rows no consumer has applied that have been quiet for `quiet_for`,
    /// oldest first.
    async fn undelivered(&self, quiet_for: Duration, limit: u32) -> Result<Vec<OutboxRow>, ApiError>;
    /// Records a relay; returns the rows (topic, id) it was the last try for.
    async fn mark_relayed(&self, ids: &[Uuid]) -> Result<Vec<(String, Uuid)>, ApiError>;
}

/// Which messages each consumer has applied: the guard against redelivery,
/// and what marks an outbox row delivered.
#[async_trait]
pub trait ProcessedLog: Send + Sync {
    async fn processed_among(&self, consumer: &str, messages: &[Uuid]) -> Result<Vec<Uuid>, ApiError>;
    async fn mark_processed(&self, consumer: &str, messages: &[Uuid]) -> Result<(), ApiError>;
}

/// Idempotency-Key storage: the first response for (user, key) is kept and
/// replayed; a key whose first request died is taken over after its lease.
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    async fn claim_key(
        &self,
        user: Uuid,
        key: &str,
        request_hash: &str,
        lease: Duration,
    ) -> Result<IdempotencyClaim, ApiError>;
    async fn complete_key(&self, user: Uuid, key: &str, status: u16, body: &[u8]) -> Result<(), ApiError>;
    async fn release_key(&self, user: Uuid, key: &str) -> Result<(), ApiError>;
    /// Forgets up to `limit` keys first claimed more than `ttl` ago: a
    /// retry that late is a new request, and a key kept for ever is a row
    /// for ever (card testers send a new key with every attempt). Returns
    /// how many it forgot.
    async fn forget_keys(&self, ttl: Duration, limit: u32) -> Result<u64, ApiError>;
}

/// Everything the booking service writes through: one store of record
/// behind three small traits.
pub trait BookingStore: BookingRepo + PaymentRecords + OutboxStore {}

impl<T: BookingRepo + PaymentRecords + OutboxStore> BookingStore for T {}
