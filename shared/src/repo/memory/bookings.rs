//! The store of record in memory: bookings, payments, the outbox, the
//! consumers' log and Idempotency-Keys, with the rules PostgreSQL's indexes
//! and row locks enforce.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{after, locked, since};
use crate::{
    domain::{
        booking::{Booking, BookingStatus, CancelFacts, CancelVerdict, PayVerdict, SeatSelection},
        event::EventId,
        purchase::{LetGo, SeatLetGo},
    },
    error::ApiError,
    kafka,
    messages::BookingMessage,
    payments::{Charge, Refund},
    repo::booking_ports::{
        BookingRepo, CancelOutcome, CreateConflict, CreateOutcome, FailOutcome, IdempotencyClaim, IdempotencyStore,
        OutboxRow, OutboxStore, OwedRefund, PayOutcome, PaymentRecords, PaymentStart, ProcessedLog, PurchaseHistory,
        SeatOwner,
    },
};

/// As the PostgreSQL adapter: how long whoever recorded a refund has to
/// carry it out before a sweeper may, and how often a message is relayed.
const REFUND_LEASE: Duration = Duration::from_secs(30);
const MAX_RELAY_ATTEMPTS: u32 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PaymentState {
    Processing,
    Succeeded,
    Declined,
    Failed,
    RefundPending,
    Refunded,
}

#[derive(Debug)]
struct Payment {
    id: Uuid,
    booking: Uuid,
    amount: crate::domain::money::Cents,
    state: PaymentState,
    reference: Option<String>,
    created_at: DateTime<Utc>,
    refund_due_at: DateTime<Utc>,
    refund_attempts: u32,
}

impl Payment {
    /// This payment as a refund owed to its payer.
    fn owed(&self) -> OwedRefund {
        OwedRefund {
            payment: self.id,
            refund: Refund { booking: self.booking, reference: self.reference.clone(), amount: self.amount },
        }
    }
}

#[derive(Debug)]
struct Queued {
    row: OutboxRow,
    created_at: DateTime<Utc>,
    relayed_at: Option<DateTime<Utc>>,
    relay_attempts: u32,
    delivered: bool,
}

#[derive(Debug)]
struct StoredKey {
    request_hash: String,
    created_at: DateTime<Utc>,
    claimed_at: DateTime<Utc>,
    response: Option<(u16, Vec<u8>)>,
}

#[derive(Default)]
struct Ledger {
    bookings: BTreeMap<Uuid, Booking>,
    payments: Vec<Payment>,
    outbox: Vec<Queued>,
    processed: HashSet<(String, Uuid)>,
    keys: HashMap<(Uuid, String), StoredKey>,
    /// Bookings the door admitted a ticket of (the check-in store's fact,
    /// which the PostgreSQL cancel reads under the booking's lock).
    admitted: HashSet<Uuid>,
}

impl Ledger {
    /// Queues `message` on `topic`, as the adapters' `enqueue` does in the
    /// change's transaction.
    fn enqueue(&mut self, topic: &str, message: &BookingMessage) -> Result<OutboxRow, ApiError> {
        let row = OutboxRow::announcing(topic, message)?;
        let queued =
            Queued { row: row.clone(), created_at: Utc::now(), relayed_at: None, relay_attempts: 0, delivered: false };
        self.outbox.push(queued);
        Ok(row)
    }

    /// Moves `id` to the final status `to` (its seats are free from then
    /// on: only active bookings claim seats).
    fn close(
        &mut self,
        id: Uuid,
        to: BookingStatus,
        reason: Option<&str>,
        topic: Option<&str>,
    ) -> Result<(Booking, Vec<OutboxRow>), ApiError> {
        let booking =
            self.bookings.get_mut(&id).ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no booking {id}")))?;
        booking.status = to;
        booking.updated_at = Utc::now();
        if let Some(reason) = reason {
            booking.failure_reason = Some(reason.to_owned());
        }
        let closed = booking.clone();
        let outbox = match topic {
            Some(topic) => vec![self.enqueue(topic, &BookingMessage::of(&closed))?],
            None => Vec::new(),
        };
        Ok((closed, outbox))
    }

    /// Bookings whose seats are claimed: open (even past their deadline,
    /// until something expires them, like the partial unique index) or paid.
    fn active(&self) -> impl Iterator<Item = &Booking> {
        self.bookings.values().filter(|b| b.status.is_active())
    }

    fn owners(&self, event: &EventId, labels: &[String]) -> Vec<SeatOwner> {
        let mut owners: Vec<SeatOwner> = self
            .active()
            .filter(|b| &b.event_id == event)
            .flat_map(|b| {
                b.seats.iter().filter(|s| labels.contains(&s.label)).map(|s| SeatOwner {
                    label: s.label.clone(),
                    booking: b.id,
                    status: b.status,
                    expires_at: b.expires_at,
                })
            })
            .collect();
        owners.sort_by(|a, b| a.label.cmp(&b.label));
        owners
    }

    fn open_booking_of(&self, user: Uuid, event: &EventId) -> Option<&Booking> {
        self.bookings.values().find(|b| b.user_id == user && &b.event_id == event && b.status.is_open())
    }

    fn payment_of(&mut self, booking: Uuid, state: PaymentState) -> Option<&mut Payment> {
        self.payments.iter_mut().find(|p| p.booking == booking && p.state == state)
    }

    fn owe(payment: &mut Payment, reference: Option<String>) -> OwedRefund {
        payment.state = PaymentState::RefundPending;
        if reference.is_some() {
            payment.reference = reference;
        }
        payment.refund_due_at = after(Utc::now(), REFUND_LEASE);
        payment.owed()
    }

    fn owe_refund_of_booking(&mut self, booking: Uuid) -> Option<OwedRefund> {
        self.payment_of(booking, PaymentState::Succeeded).map(|payment| Ledger::owe(payment, None))
    }
}

/// Bookings, payments, outbox, consumer log and Idempotency-Keys in memory:
/// every port the PostgreSQL adapter `PgBookings` implements.
#[derive(Clone, Default)]
pub struct MemoryBookings {
    ledger: Arc<Mutex<Ledger>>,
}

impl MemoryBookings {
    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        locked(&self.ledger)
    }

    /// Every message queued so far, in order: what a test reads instead of
    /// a topic.
    pub fn queued(&self) -> Vec<OutboxRow> {
        self.ledger().outbox.iter().map(|q| q.row.clone()).collect()
    }

    /// The door admitted a ticket of `id`.
    pub fn admit(&self, id: Uuid) {
        self.ledger().admitted.insert(id);
    }

    /// Moves a booking's deadline, for tests of what happens after it.
    pub fn set_deadline(&self, id: Uuid, expires_at: DateTime<Utc>) {
        if let Some(booking) = self.ledger().bookings.get_mut(&id) {
            booking.expires_at = expires_at;
        }
    }
}

#[async_trait]
impl BookingRepo for MemoryBookings {
    async fn create(
        &self,
        id: Uuid,
        user: Uuid,
        selection: &SeatSelection,
        currency: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<CreateOutcome, ApiError> {
        let labels: Vec<String> = selection.seats.iter().map(|s| s.label.clone()).collect();
        let event = &selection.event_id;
        let mut ledger = self.ledger();
        let now = Utc::now();
        // Lazy expiry of open bookings in the way, as the adapter does when
        // an index refuses the insert.
        let mut stale: Vec<Uuid> = ledger.owners(event, &labels).iter().map(|o| o.booking).collect();
        stale.extend(ledger.open_booking_of(user, event).map(|b| b.id));
        stale.retain(|id| ledger.bookings[id].status.is_open() && ledger.bookings[id].expires_at <= now);
        stale.sort();
        stale.dedup();
        let mut outbox = Vec::new();
        for id in stale {
            outbox.extend(ledger.close(id, BookingStatus::Expired, None, Some(kafka::BOOKING_EXPIRED))?.1);
        }
        // The open-booking index is on the bookings table, checked before
        // the seats' index, as in PostgreSQL.
        if ledger.open_booking_of(user, event).is_some() {
            return Ok(CreateOutcome::Refused(CreateConflict::OpenBookingExists));
        }
        let owners = ledger.owners(event, &labels);
        if !owners.is_empty() {
            return Ok(CreateOutcome::Refused(CreateConflict::SeatsTaken(owners)));
        }
        let booking = Booking {
            id,
            user_id: user,
            event_id: event.clone(),
            status: BookingStatus::Pending,
            total: selection.total,
            currency: currency.to_owned(),
            expires_at,
            created_at: now,
            updated_at: now,
            failure_reason: None,
            seats: selection.seats.clone(),
        };
        ledger.bookings.insert(id, booking.clone());
        let requested = BookingMessage::requested(id, user, selection, expires_at);
        outbox.push(ledger.enqueue(kafka::BOOKING_REQUESTED, &requested)?);
        Ok(CreateOutcome::Created { booking, outbox })
    }

    async fn purchase_history(
        &self,
        user: Uuid,
        event: &EventId,
        labels: &[String],
        look_back: Duration,
    ) -> Result<PurchaseHistory, ApiError> {
        let ledger = self.ledger();
        let now = Utc::now();
        let mine = || ledger.bookings.values().filter(|b| b.user_id == user && &b.event_id == event);
        let lapsed = |b: &Booking| b.status.effective(b.expires_at, now) == BookingStatus::Expired;
        let seats_owned = mine()
            .filter(|b| b.status == BookingStatus::Confirmed || (b.status.is_open() && b.expires_at > now))
            .map(|b| b.seats.len() as u32)
            .sum();
        let horizon = since(now, look_back);
        let mut let_go: Vec<SeatLetGo> = mine()
            .filter_map(|b| match (b.status, lapsed(b)) {
                (_, true) => Some((b, b.expires_at, LetGo::Lapsed)),
                (BookingStatus::Cancelled, false) => Some((b, b.updated_at, LetGo::Cancelled)),
                _ => None,
            })
            .filter(|(_, at, _)| *at > horizon)
            .flat_map(|(b, at, how)| {
                b.seats.iter().filter(|s| labels.contains(&s.label)).map(move |s| SeatLetGo {
                    label: s.label.clone(),
                    at,
                    how,
                })
            })
            .collect();
        let_go.sort_by_key(|seat| seat.at);
        let mut lapses: Vec<DateTime<Utc>> =
            mine().filter(|b| lapsed(b) && b.expires_at > horizon).map(|b| b.expires_at).collect();
        lapses.sort();
        Ok(PurchaseHistory { seats_owned, let_go, lapses })
    }

    async fn find(&self, id: Uuid) -> Result<Option<Booking>, ApiError> {
        Ok(self.ledger().bookings.get(&id).cloned())
    }

    async fn list_for_user(
        &self,
        user: Uuid,
        status: Option<BookingStatus>,
        limit: u32,
        offset: u64,
    ) -> Result<(Vec<Booking>, u64), ApiError> {
        let now = Utc::now();
        let mut found: Vec<Booking> = self
            .ledger()
            .bookings
            .values()
            .filter(|b| b.user_id == user && status.is_none_or(|s| b.status.effective(b.expires_at, now) == s))
            .cloned()
            .collect();
        found.sort_by_key(|b| std::cmp::Reverse((b.created_at, b.id)));
        let total = found.len() as u64;
        Ok((found.into_iter().skip(offset as usize).take(limit as usize).collect(), total))
    }

    async fn active_seats(&self, event: &EventId, labels: &[String]) -> Result<Vec<SeatOwner>, ApiError> {
        Ok(self.ledger().owners(event, labels))
    }

    async fn effective_statuses(
        &self,
        ids: &[Uuid],
        now: DateTime<Utc>,
    ) -> Result<HashMap<Uuid, BookingStatus>, ApiError> {
        let ledger = self.ledger();
        Ok(ids
            .iter()
            .filter_map(|id| ledger.bookings.get(id))
            .map(|b| (b.id, b.status.effective(b.expires_at, now)))
            .collect())
    }

    async fn cancel(&self, user: Uuid, id: Uuid, event_starts_at: DateTime<Utc>) -> Result<CancelOutcome, ApiError> {
        let mut ledger = self.ledger();
        let Some(booking) = ledger.bookings.get(&id).filter(|b| b.user_id == user).cloned() else {
            return Ok(CancelOutcome::NotFound);
        };
        let facts = CancelFacts { now: Utc::now(), event_starts_at, admitted: ledger.admitted.contains(&id) };
        let refund = match booking.on_cancel(facts) {
            CancelVerdict::AlreadyCancelled => return Ok(CancelOutcome::Unchanged(booking)),
            CancelVerdict::Closed(status) => return Ok(CancelOutcome::NotCancellable(status)),
            CancelVerdict::TooLate(why) => return Ok(CancelOutcome::TooLate(why)),
            CancelVerdict::Cancel { refund } => refund.then(|| ledger.owe_refund_of_booking(id)).flatten(),
        };
        let (cancelled, _) = ledger.close(id, BookingStatus::Cancelled, None, None)?;
        let message = BookingMessage {
            refund_cents: refund.as_ref().map(|owed| owed.refund.amount.0),
            ..BookingMessage::of(&cancelled)
        };
        let outbox = vec![ledger.enqueue(kafka::BOOKING_CANCELLED, &message)?];
        Ok(CancelOutcome::Cancelled { booking: cancelled, outbox, refund })
    }

    async fn mark_reserved(&self, ids: &[Uuid]) -> Result<u64, ApiError> {
        let mut ledger = self.ledger();
        let mut changed = 0;
        for id in ids {
            if let Some(booking) = ledger.bookings.get_mut(id).filter(|b| b.status == BookingStatus::Pending) {
                booking.status = BookingStatus::Reserved;
                booking.updated_at = Utc::now();
                changed += 1;
            }
        }
        Ok(changed)
    }

    async fn mark_failed(&self, id: Uuid, reason: &str) -> Result<FailOutcome, ApiError> {
        let mut ledger = self.ledger();
        let Some(status) = ledger.bookings.get(&id).map(|b| b.status) else {
            return Ok(FailOutcome { booking: None, outbox: Vec::new(), refund: None });
        };
        if !status.is_active() {
            return Ok(FailOutcome { booking: None, outbox: Vec::new(), refund: None });
        }
        let refund = if status == BookingStatus::Confirmed { ledger.owe_refund_of_booking(id) } else { None };
        let (failed, outbox) = ledger.close(id, BookingStatus::Failed, Some(reason), None)?;
        Ok(FailOutcome { booking: Some(failed), outbox, refund })
    }

    async fn expire_due(&self, limit: u32) -> Result<(Vec<Booking>, Vec<OutboxRow>), ApiError> {
        let mut ledger = self.ledger();
        let now = Utc::now();
        let mut due: Vec<(DateTime<Utc>, Uuid)> = ledger
            .bookings
            .values()
            .filter(|b| b.status.is_open() && b.expires_at <= now)
            .map(|b| (b.expires_at, b.id))
            .collect();
        due.sort();
        let (mut expired, mut outbox) = (Vec::new(), Vec::new());
        for (_, id) in due.into_iter().take(limit as usize) {
            let (booking, rows) = ledger.close(id, BookingStatus::Expired, None, Some(kafka::BOOKING_EXPIRED))?;
            expired.push(booking);
            outbox.extend(rows);
        }
        Ok((expired, outbox))
    }
}

#[async_trait]
impl PaymentRecords for MemoryBookings {
    async fn begin_payment(&self, user: Uuid, id: Uuid, _card_last4: &str) -> Result<PaymentStart, ApiError> {
        let mut ledger = self.ledger();
        let Some(booking) = ledger.bookings.get(&id).filter(|b| b.user_id == user).cloned() else {
            return Ok(PaymentStart::NotFound);
        };
        match booking.on_pay(Utc::now()) {
            PayVerdict::Charge => {}
            PayVerdict::AlreadyPaid => return Ok(PaymentStart::AlreadyPaid),
            PayVerdict::Closed(status) => return Ok(PaymentStart::NotPayable(status)),
        }
        let charged = ledger
            .payments
            .iter()
            .filter(|p| p.booking == id)
            .map(|p| p.state)
            .find(|state| !matches!(state, PaymentState::Declined | PaymentState::Failed));
        match charged {
            None => {}
            Some(PaymentState::Processing) => return Ok(PaymentStart::InProgress),
            Some(_) => return Ok(PaymentStart::AlreadyPaid),
        }
        let payment = Uuid::now_v7();
        let now = Utc::now();
        ledger.payments.push(Payment {
            id: payment,
            booking: id,
            amount: booking.total,
            state: PaymentState::Processing,
            reference: None,
            created_at: now,
            refund_due_at: now,
            refund_attempts: 0,
        });
        Ok(PaymentStart::Started { booking, payment })
    }

    async fn finish_payment(&self, booking: &Booking, payment: Uuid, charge: Charge) -> Result<PayOutcome, ApiError> {
        let mut ledger = self.ledger();
        let record = |ledger: &mut Ledger, state| {
            if let Some(p) = ledger.payments.iter_mut().find(|p| p.id == payment) {
                p.state = state;
            }
        };
        let reference = match charge {
            Charge::Declined { code } => {
                record(&mut ledger, PaymentState::Declined);
                return Ok(PayOutcome::Declined(code));
            }
            Charge::Unavailable => {
                record(&mut ledger, PaymentState::Failed);
                return Ok(PayOutcome::ProviderUnavailable);
            }
            Charge::Approved { reference } => reference,
        };
        let current =
            ledger.bookings.get(&booking.id).cloned().ok_or_else(|| {
                ApiError::Internal(anyhow::anyhow!("booking {} vanished during its payment", booking.id))
            })?;
        let closed = current.on_pay(Utc::now()).refusal();
        let Some(paid) = ledger.payments.iter_mut().find(|p| p.id == payment) else {
            return Err(ApiError::Internal(anyhow::anyhow!("payment {payment} was never begun")));
        };
        if let Some(status) = closed {
            return Ok(PayOutcome::ChargedTooLate { status, refund: Ledger::owe(paid, Some(reference)) });
        }
        paid.state = PaymentState::Succeeded;
        paid.reference = Some(reference);
        let (confirmed, _) = ledger.close(booking.id, BookingStatus::Confirmed, None, None)?;
        let outbox = vec![ledger.enqueue(kafka::BOOKING_CONFIRMED, &BookingMessage::of(&confirmed))?];
        Ok(PayOutcome::Confirmed { booking: confirmed, outbox })
    }

    async fn claim_due_refunds(
        &self,
        limit: u32,
        lease: Duration,
        abandoned_after: Duration,
    ) -> Result<Vec<OwedRefund>, ApiError> {
        let mut ledger = self.ledger();
        let now = Utc::now();
        for payment in ledger.payments.iter_mut() {
            if payment.state == PaymentState::Processing && payment.created_at <= since(now, abandoned_after) {
                payment.state = PaymentState::RefundPending;
                payment.refund_due_at = now;
            }
        }
        let mut due: Vec<&mut Payment> = ledger
            .payments
            .iter_mut()
            .filter(|p| p.state == PaymentState::RefundPending && p.refund_due_at <= now)
            .collect();
        due.sort_by_key(|p| p.refund_due_at);
        Ok(due
            .into_iter()
            .take(limit as usize)
            .map(|payment| {
                payment.refund_due_at = after(now, lease);
                payment.owed()
            })
            .collect())
    }

    async fn refund_done(&self, payment: Uuid) -> Result<(), ApiError> {
        let mut ledger = self.ledger();
        if let Some(p) = ledger.payments.iter_mut().find(|p| p.id == payment && p.state == PaymentState::RefundPending)
        {
            p.state = PaymentState::Refunded;
        }
        Ok(())
    }

    async fn refund_failed(&self, payment: Uuid, _error: &str) -> Result<(), ApiError> {
        let mut ledger = self.ledger();
        if let Some(p) = ledger.payments.iter_mut().find(|p| p.id == payment && p.state == PaymentState::RefundPending)
        {
            let back_off = (5 * 2u64.pow(p.refund_attempts.min(10))).min(3600);
            p.refund_attempts += 1;
            p.refund_due_at = Utc::now() + chrono::Duration::seconds(back_off as i64);
        }
        Ok(())
    }
}

#[async_trait]
impl OutboxStore for MemoryBookings {
    async fn undelivered(&self, quiet_for: Duration, limit: u32) -> Result<Vec<OutboxRow>, ApiError> {
        let quiet_since = since(Utc::now(), quiet_for);
        Ok(self
            .ledger()
            .outbox
            .iter()
            .filter(|q| !q.delivered && q.relay_attempts < MAX_RELAY_ATTEMPTS)
            .filter(|q| q.relayed_at.unwrap_or(q.created_at) <= quiet_since)
            .take(limit as usize)
            .map(|q| q.row.clone())
            .collect())
    }

    async fn mark_relayed(&self, ids: &[Uuid]) -> Result<Vec<(String, Uuid)>, ApiError> {
        let mut ledger = self.ledger();
        let mut given_up = Vec::new();
        for queued in ledger.outbox.iter_mut().filter(|q| ids.contains(&q.row.id)) {
            queued.relayed_at = Some(Utc::now());
            queued.relay_attempts += 1;
            if queued.relay_attempts >= MAX_RELAY_ATTEMPTS {
                given_up.push((queued.row.topic.clone(), queued.row.id));
            }
        }
        Ok(given_up)
    }
}

#[async_trait]
impl ProcessedLog for MemoryBookings {
    async fn processed_among(&self, consumer: &str, messages: &[Uuid]) -> Result<Vec<Uuid>, ApiError> {
        let ledger = self.ledger();
        Ok(messages.iter().copied().filter(|id| ledger.processed.contains(&(consumer.to_owned(), *id))).collect())
    }

    async fn mark_processed(&self, consumer: &str, messages: &[Uuid]) -> Result<(), ApiError> {
        let mut ledger = self.ledger();
        for queued in ledger.outbox.iter_mut().filter(|q| messages.contains(&q.row.id)) {
            queued.delivered = true;
        }
        ledger.processed.extend(messages.iter().map(|id| (consumer.to_owned(), *id)));
        Ok(())
    }
}

#[async_trait]
impl IdempotencyStore for MemoryBookings {
    async fn claim_key(
        &self,
        user: Uuid,
        key: &str,
        request_hash: &str,
        lease: Duration,
    ) -> Result<IdempotencyClaim, ApiError> {
        let mut ledger = self.ledger();
        let now = Utc::now();
        let stored = match ledger.keys.entry((user, key.to_owned())) {
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(StoredKey {
                    request_hash: request_hash.to_owned(),
                    created_at: now,
                    claimed_at: now,
                    response: None,
                });
                return Ok(IdempotencyClaim::Claimed);
            }
            std::collections::hash_map::Entry::Occupied(slot) => slot.into_mut(),
        };
        if stored.request_hash != request_hash {
            return Ok(IdempotencyClaim::Mismatch);
        }
        match &stored.response {
            Some((status, body)) => Ok(IdempotencyClaim::Replay { status: *status, body: body.clone() }),
            None if stored.claimed_at <= since(now, lease) => {
                stored.claimed_at = now;
                Ok(IdempotencyClaim::Claimed)
            }
            None => Ok(IdempotencyClaim::InProgress),
        }
    }

    async fn complete_key(&self, user: Uuid, key: &str, status: u16, body: &[u8]) -> Result<(), ApiError> {
        if let Some(stored) = self.ledger().keys.get_mut(&(user, key.to_owned())) {
            stored.response = Some((status, body.to_vec()));
        }
        Ok(())
    }

    async fn release_key(&self, user: Uuid, key: &str) -> Result<(), ApiError> {
        let mut ledger = self.ledger();
        if ledger.keys.get(&(user, key.to_owned())).is_some_and(|stored| stored.response.is_none()) {
            ledger.keys.remove(&(user, key.to_owned()));
        }
        Ok(())
    }

    async fn forget_keys(&self, ttl: Duration, limit: u32) -> Result<u64, ApiError> {
        let mut ledger = self.ledger();
        let horizon = since(Utc::now(), ttl);
        let old: Vec<(Uuid, String)> = ledger
            .keys
            .iter()
            .filter(|(_, k)| k.created_at < horizon)
            .map(|(id, _)| id.clone())
            .take(limit as usize)
            .collect();
        for id in &old {
            ledger.keys.remove(id);
        }
        Ok(old.len() as u64)
    }
}
