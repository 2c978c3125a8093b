//! The booking service: create (hold, then record), read, cancel, pay,
//! expire, and the outbox relay. HTTP-free; handlers call these with the
//! caller's claims.

pub mod declines;
#[cfg(any(test, feature = "dev"))]
pub mod suite;

use std::{collections::BTreeMap, time::Duration};

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::{
    auth::Claims,
    catalog::LayoutCache,
    config::Config,
    domain::{
        booking::{select_seats, Booking, BookingStatus, BookingView, CreateBookingRequest, TooLate},
        event::EventId,
        onsale::Admission,
        purchase::{PurchaseRules, PurchaseVerdict},
    },
    error::ApiError,
    kafka::Publisher,
    payments::{PayRequest, PaymentProvider},
    repo::{
        booking_ports::{
            BookingRepo, BookingStore, CancelOutcome, CreateConflict, CreateOutcome, OutboxRow, OwedRefund, PayOutcome,
            PaymentStart, SeatOwner,
        },
        EventCatalog, SeatHolds,
    },
    waiting_room::AdmissionGate,
};

/// How long a sweeper may work on the refunds it claimed before another
/// may claim them again.
const REFUND_LEASE: Duration = Duration::from_secs(60);

/// What the booking operations need, borrowed from the function's state.
pub struct Bookings<'a> {
    pub config: &'a Config,
    /// The store of record (PostgreSQL on AWS and locally).
    pub repo: Box<dyn BookingStore + 'a>,
    pub holds: Box<dyn SeatHolds + 'a>,
    pub publisher: Box<dyn Publisher + 'a>,
    pub catalog: Box<dyn EventCatalog + 'a>,
    pub layouts: &'a LayoutCache,
    /// The on-sale's say: open yet, admission pass, per-user limit.
    pub gate: Box<dyn AdmissionGate + 'a>,
}

fn seat_conflict(event: &EventId, labels: &[String]) -> ApiError {
    let ids: Vec<String> = labels.iter().map(|l| event.seat_id(l)).collect();
    ApiError::Conflict {
        message: format!("Seats are no longer available: {}", ids.join(", ")),
        details: Some(serde_json::json!({ "seats": ids })),
    }
}

impl Bookings<'_> {
    pub async fn create(
        &self,
        user: &Claims,
        request: CreateBookingRequest,
        now: DateTime<Utc>,
    ) -> Result<Booking, ApiError> {
        let pass = request.admission_pass.clone();
        let (event_id, seat_ids) = request.event_and_seats(self.config.max_seats_per_booking)?;
        let layout = self.layouts.get(self.catalog.as_ref(), &event_id).await?;
        if layout.event.date <= now {
            return Err(ApiError::conflict("This event has already taken place"));
        }
        let selection = select_seats(&layout, &seat_ids)?;
        let labels: Vec<String> = selection.seats.iter().map(|s| s.label.clone()).collect();
        let admission = self.gate.admit(user, &event_id, pass.as_deref(), now).await?;
        self.check_purchase_limits(user.sub, &layout.event, &labels, admission, now).await?;
        let id = Uuid::now_v7();
        let owner = id.to_string();
        let expires_at =
            now + chrono::Duration::from_std(self.config.hold_ttl).unwrap_or(chrono::Duration::minutes(10));
        tracing::Span::current().record("booking_id", tracing::field::display(id));

        // Redis first: it turns away the crowd for a taken seat in one round
        // trip. PostgreSQL below is still the judge.
        let taken = self.holds.hold(&event_id, &owner, &labels, expires_at.timestamp_millis()).await?;
        if !taken.is_empty() {
            return Err(seat_conflict(&event_id, &taken));
        }
        let outcome = self.repo.create(id, user.sub, &selection, &layout.event.currency, expires_at).await;
        if !matches!(outcome, Ok(CreateOutcome::Created { .. })) {
            if let Err(err) = self.holds.release(&event_id, &owner, &labels).await {
                tracing::warn!(error = %err, "could not release the hold of a booking that was not created");
            }
        }
        match outcome? {
            CreateOutcome::Created { booking, outbox } => {
                tracing::info!(booking.id = %booking.id, event.id = %event_id, seats = labels.len(), "booking created");
                self.relay(&outbox).await;
                Ok(booking)
            }
            CreateOutcome::Refused(CreateConflict::OpenBookingExists) => {
                Err(ApiError::conflict("You already have an unpaid booking for this event; pay or cancel it first"))
            }
            CreateOutcome::Refused(CreateConflict::SeatsTaken(owners)) => {
                // After our own hold is gone: the owners PostgreSQL names get
                // theirs back where the Redis screen had lost them.
                self.restore_holds(&event_id, &owners).await;
                let labels: Vec<String> = owners.into_iter().map(|owner| owner.label).collect();
                Err(seat_conflict(&event_id, &labels))
            }
        }
    }

    /// Box-office limits, checked before any seat is held
    /// (`domain::purchase`): the seat limit counts open and paid bookings
    /// together, so hold → cancel → hold buys nothing; seats the fan gave
    /// back cool down before the same fan may take them again, and a fan
    /// whose holds keep lapsing sits the event out for a while, so no one
    /// keeps seats off sale by cycling holds. One open booking per user and
    /// event (a unique index) keeps two parallel requests from both passing.
    pub(crate) async fn check_purchase_limits(
        &self,
        fan: Uuid,
        event: &crate::domain::event::Event,
        labels: &[String],
        admission: Admission,
        now: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        let rules = PurchaseRules {
            seat_limit: admission
                .max_seats_per_user
                .or(event.max_seats_per_user)
                .unwrap_or(self.config.max_seats_per_user_per_event),
            cancel_cooldown: self.config.rebook_cooldown,
            lapse_cooldown: self.config.lapse_cooldown,
            max_lapses: self.config.max_lapses_per_event,
            lapse_window: self.config.lapse_window,
        };
        let history = self.repo.purchase_history(fan, &event.id, labels, rules.look_back()).await?;
        match rules.judge(&history, labels.len() as u32, now) {
            PurchaseVerdict::Allowed => Ok(()),
            PurchaseVerdict::CoolingDown { seats, retry_after } => {
                let ids: Vec<String> = seats.iter().map(|l| event.id.seat_id(l)).collect();
                tracing::info!(seats = ?ids, "rebooking just-released seats refused");
                Err(ApiError::TooManyRequests { retry_after })
            }
            PurchaseVerdict::TooManyLapses { retry_after } => {
                tracing::info!(event.id = %event.id, "holds refused after repeated lapses");
                Err(ApiError::TooManyRequests { retry_after })
            }
            PurchaseVerdict::OverLimit { limit, owned, wanted } => Err(ApiError::Conflict {
                message: format!(
                    "You may hold or own at most {limit} seats for this event; you have {owned} and asked for {wanted}"
                ),
                details: Some(serde_json::json!({ "limit": limit, "seatsOwned": owned })),
            }),
        }
    }

    pub async fn get(&self, user: &Claims, id: Uuid) -> Result<Booking, ApiError> {
        self.repo.find_for_user(user.sub, id).await?.ok_or_else(not_found)
    }

    /// Cancels the fan's booking, refunding a paid one, unless a ticket of
    /// it was used at the door or the event has started (`Booking::on_cancel`).
    pub async fn cancel(&self, user: &Claims, id: Uuid, provider: &dyn PaymentProvider) -> Result<Booking, ApiError> {
        // The event's start is the catalog's; the booking names the event.
        let event = self.repo.find_for_user(user.sub, id).await?.ok_or_else(not_found)?.event_id;
        let starts_at = self.layouts.get(self.catalog.as_ref(), &event).await?.event.date;
        match self.repo.cancel(user.sub, id, starts_at).await? {
            CancelOutcome::NotFound => Err(not_found()),
            CancelOutcome::Unchanged(booking) => Ok(booking),
            CancelOutcome::NotCancellable(status) => {
                Err(ApiError::conflict(format!("The booking is {} and can no longer be cancelled", status.as_str())))
            }
            CancelOutcome::TooLate(TooLate::TicketUsed) => Err(ApiError::refused(
                http::StatusCode::CONFLICT,
                "TICKET_USED",
                "A ticket of this booking was already used at the door; it can no longer be cancelled or refunded",
            )),
            CancelOutcome::TooLate(TooLate::EventStarted) => Err(ApiError::refused(
                http::StatusCode::CONFLICT,
                "EVENT_STARTED",
                "The event has started; its bookings can no longer be cancelled or refunded",
            )),
            CancelOutcome::Cancelled { booking, outbox, refund } => {
                self.release_holds(&booking).await;
                self.relay(&outbox).await;
                if let Some(owed) = refund {
                    // Owed in the cancel's own commit: a provider failure
                    // leaves it to the sweeper and the cancel stands.
                    let _ = self.refund(provider, &owed).await;
                }
                Ok(booking)
            }
        }
    }

    /// Charges the card outside any row lock: `begin_payment` records the
    /// attempt, the provider decides, `finish_payment` applies its answer.
    pub async fn pay(
        &self,
        user: &Claims,
        id: Uuid,
        request: PayRequest,
        provider: &dyn PaymentProvider,
    ) -> Result<Booking, ApiError> {
        let card = request.card()?;
        let (booking, payment) = match self.repo.begin_payment(user.sub, id, card.last4()).await? {
            PaymentStart::Started { booking, payment } => (booking, payment),
            PaymentStart::NotFound => return Err(not_found()),
            PaymentStart::AlreadyPaid => return Err(ApiError::conflict("This booking is already paid")),
            PaymentStart::InProgress => {
                return Err(ApiError::conflict("A payment for this booking is already in progress"))
            }
            PaymentStart::NotPayable(status) => return Err(not_payable(status)),
        };
        let charge = provider.charge(payment, booking.total, &booking.currency, &card).await;
        match self.repo.finish_payment(&booking, payment, charge).await? {
            PayOutcome::Confirmed { booking, outbox } => {
                let conflicts = self.holds.confirm(&booking.event_id, &booking.id.to_string(), &booking.labels()).await;
                match conflicts {
                    Ok(conflicts) if !conflicts.is_empty() => {
                        tracing::error!(booking.id = %booking.id, ?conflicts, "redis shows seats of a paid booking booked by another");
                    }
                    Err(err) => tracing::warn!(booking.id = %booking.id, error = %err, "booked markers not written"),
                    Ok(_) => {}
                }
                tracing::info!(booking.id = %booking.id, amount = booking.total.0, "booking paid");
                self.relay(&outbox).await;
                Ok(booking)
            }
            PayOutcome::Declined(code) => Err(ApiError::PaymentRequired(format!("The card was declined ({code})"))),
            PayOutcome::ProviderUnavailable => {
                Err(ApiError::Unavailable("The payment provider is unavailable; retry shortly".into()))
            }
            PayOutcome::ChargedTooLate { status, refund } => {
                tracing::warn!(booking.id = %booking.id, status = status.as_str(), "charged after the booking closed; refunding");
                // Owed and recorded: if this attempt fails the sweeper retries it.
                let _ = self.refund(provider, &refund).await;
                Err(not_payable(status))
            }
        }
    }

    /// Asks the provider for one owed refund and records the answer. A
    /// failure stays owed (REFUND_PENDING) and the sweeper tries again.
    pub async fn refund(&self, provider: &dyn PaymentProvider, owed: &OwedRefund) -> Result<(), ApiError> {
        let booking = owed.refund.booking;
        match provider.refund(&owed.refund).await {
            Ok(()) => {
                self.repo.refund_done(owed.payment).await?;
                tracing::info!(booking.id = %booking, amount = owed.refund.amount.0, "payment refunded");
                Ok(())
            }
            Err(err) => {
                tracing::warn!(booking.id = %booking, error = %err, "refund failed; it stays owed and is retried");
                self.repo.refund_failed(owed.payment, &err.to_string()).await?;
                Err(err)
            }
        }
    }

    /// Drives one batch of owed refunds (the sweeper's step); returns how
    /// many were claimed, refunded or not.
    pub async fn refund_due(&self, provider: &dyn PaymentProvider) -> Result<usize, ApiError> {
        let owed = self
            .repo
            .claim_due_refunds(self.config.sweep_batch, REFUND_LEASE, self.config.charge_abandoned_after)
            .await?;
        for refund in &owed {
            // One provider failure must not hold up the others.
            let _ = self.refund(provider, refund).await;
        }
        Ok(owed.len())
    }

    /// Expires overdue bookings, frees their holds and publishes their
    /// booking.expired at once, like every other writer (one batch; the
    /// sweeper repeats it until drained).
    pub async fn expire_due(&self) -> Result<usize, ApiError> {
        let (expired, outbox) = self.repo.expire_due(self.config.sweep_batch).await?;
        for booking in &expired {
            self.release_holds(booking).await;
        }
        self.relay(&outbox).await;
        if !expired.is_empty() {
            tracing::info!(count = expired.len(), "bookings expired");
        }
        Ok(expired.len())
    }

    /// Redis let us hold seats PostgreSQL says are taken: Redis lost them
    /// (flushed, failed over, evicted). Put the real owners' holds back so
    /// the seat map and the next buyers see the truth again.
    pub async fn restore_holds(&self, event: &EventId, owners: &[SeatOwner]) {
        let mut by_booking: BTreeMap<Uuid, (BookingStatus, DateTime<Utc>, Vec<String>)> = BTreeMap::new();
        for owner in owners {
            let entry = by_booking.entry(owner.booking).or_insert((owner.status, owner.expires_at, Vec::new()));
            entry.2.push(owner.label.clone());
        }
        for (booking, (status, expires_at, labels)) in by_booking {
            let owner = booking.to_string();
            let restored = match status {
                BookingStatus::Confirmed => self.holds.confirm(event, &owner, &labels).await,
                _ => self.holds.hold(event, &owner, &labels, expires_at.timestamp_millis()).await,
            };
            match restored {
                Ok(others) if others.is_empty() => {
                    tracing::warn!(booking.id = %booking, seats = ?labels, "redis had lost these holds; restored from postgres");
                }
                Ok(others) => tracing::warn!(booking.id = %booking, ?others, "could not restore holds held by others"),
                Err(err) => tracing::warn!(booking.id = %booking, error = %err, "could not restore holds"),
            }
        }
    }

    pub async fn release_holds(&self, booking: &Booking) {
        if let Err(err) = self.holds.release(&booking.event_id, &booking.id.to_string(), &booking.labels()).await {
            // The hold expires on its own, and PostgreSQL already freed the
            // seats; a lost release only delays the seat map.
            tracing::warn!(booking.id = %booking.id, error = %err, "could not release redis hold");
        }
    }

    /// The fast path: publishes the rows a request just committed, awaiting
    /// the broker's acknowledgement, and writes nothing back. A row is done
    /// when its consumer has applied it (`mark_processed`); one that is not
    /// within `outbox_redeliver_after` is published again by the sweeper.
    pub async fn relay(&self, rows: &[OutboxRow]) -> usize {
        let (sent, failure) = self.publish_rows(rows).await;
        if let Some(err) = failure {
            tracing::warn!(error = %err, "outbox relay stopped; the sweeper will retry");
        }
        sent.len()
    }

    /// Publishes again the outbox rows no consumer has applied in time,
    /// oldest first (the sweeper's pass).
    pub async fn relay_pending(&self) -> Result<usize, ApiError> {
        let rows = self.repo.undelivered(self.config.outbox_redeliver_after, self.config.sweep_batch).await?;
        let (sent, failure) = self.publish_rows(&rows).await;
        if !sent.is_empty() {
            for (topic, id) in self.repo.mark_relayed(&sent).await? {
                // No consumer has applied it after every retry: its consumer
                // dead-letters it each time. Alarm on this line.
                tracing::error!(outbox.id = %id, topic, "outbox message given up after its last relay; see the dead-letter topic");
            }
            tracing::info!(count = sent.len(), "outbox rows relayed again");
        }
        match failure {
            Some(err) => Err(err),
            None => Ok(sent.len()),
        }
    }

    /// Publishes in order and stops at the first failure, so one event's
    /// messages never overtake each other. Returns the ids sent.
    async fn publish_rows(&self, rows: &[OutboxRow]) -> (Vec<Uuid>, Option<ApiError>) {
        let mut sent = Vec::with_capacity(rows.len());
        for row in rows {
            let published = match serde_json::to_vec(&row.payload) {
                Ok(payload) => self.publisher.publish(&row.topic, &row.key, &payload).await,
                Err(err) => Err(ApiError::Internal(err.into())),
            };
            if let Err(err) = published {
                return (sent, Some(err));
            }
            sent.push(row.id);
        }
        (sent, None)
    }
}

fn not_found() -> ApiError {
    ApiError::NotFound("Booking not found".into())
}

fn not_payable(status: BookingStatus) -> ApiError {
    ApiError::conflict(format!("The booking is {} and can no longer be paid", status.as_str()))
}

/// One page of a fan's bookings, as `GET /bookings` shows it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BookingPage {
    pub bookings: Vec<BookingView>,
    pub page: u32,
    pub limit: u32,
    pub total: u64,
    pub total_pages: u64,
}

/// Page `page` (from 1) of the user's bookings, newest first, optionally of
/// one effective status. Reads PostgreSQL only, so listing needs no hold
/// store.
pub async fn list(
    repo: &dyn BookingRepo,
    user: &Claims,
    status: Option<BookingStatus>,
    limit: u32,
    page: u32,
    now: DateTime<Utc>,
) -> Result<BookingPage, ApiError> {
    let offset = u64::from(page.saturating_sub(1)) * u64::from(limit);
    let (found, total) = repo.list_for_user(user.sub, status, limit, offset).await?;
    Ok(BookingPage {
        bookings: found.iter().map(|b| BookingView::new(b, now)).collect(),
        page,
        limit,
        total,
        total_pages: total.div_ceil(u64::from(limit.max(1))),
    })
}

/// `GET /bookings` query: `status`, `limit`, `page`.
pub fn parse_list_query(param: impl Fn(&str) -> Option<String>) -> Result<(Option<BookingStatus>, u32, u32), ApiError> {
    let mut check = crate::domain::fields::FieldCheck::default();
    let status = param("status").map(|s| s.parse::<BookingStatus>());
    let status = match status {
        Some(Err(_)) => {
            check.fail("status", "must be one of PENDING, RESERVED, CONFIRMED, CANCELLED, EXPIRED, FAILED");
            None
        }
        Some(Ok(s)) => Some(s),
        None => None,
    };
    let (limit, page) = crate::domain::fields::paging(&mut check, &param);
    check.finish()?;
    Ok((status, limit, page))
}

/// A booking id from the path: a UUID, or the booking does not exist.
pub fn parse_booking_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::validation("id", "is not a valid booking id"))
}
