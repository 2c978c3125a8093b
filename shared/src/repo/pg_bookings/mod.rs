//! Bookings in PostgreSQL (schema `bookings_demo`): every state change, its
//! seats' `active` flag, its outbox message and its audit row are written in
//! one transaction, so no booking exists without its event and no event is
//! published for a change that did not commit.
//!
//! Every query that takes an array of ids (`= ANY($n)`) is sent unprepared
//! (`persistent(false)`), so PostgreSQL plans it for the table as it is at
//! that moment. A prepared statement switches to a generic plan after five
//! runs and keeps it until the table is next analyzed: planned while the
//! table was nearly empty (a fresh deployment, the first minute of a bench),
//! that plan scans the whole table or every open booking on each consumer
//! batch. These run once per batch or on rare paths, so the extra planning
//! (tens of microseconds) is cheap insurance.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{postgres::PgRow, PgPool, Postgres, Row, Transaction};
use uuid::Uuid;

mod idempotency_keys;
mod outbox;
mod payments;
mod processed;

pub(crate) use outbox::enqueue;

use async_trait::async_trait;
use outbox::audit;
use payments::owe_refund_of_booking;

use super::{
    booking_ports::{
        BookingRepo, CancelOutcome, CreateConflict, CreateOutcome, FailOutcome, OutboxRow, PurchaseHistory, SeatOwner,
    },
    is_unique_violation,
};
use crate::{
    domain::{
        booking::{BookedSeat, Booking, BookingStatus, CancelFacts, CancelVerdict, SeatSelection},
        event::EventId,
        money::Cents,
        purchase::{LetGo, SeatLetGo},
        user::Tier,
    },
    error::ApiError,
    kafka,
    messages::BookingMessage,
};

const OPEN: &str = "('PENDING', 'RESERVED')";

#[derive(Clone)]
pub struct PgBookings {
    pool: PgPool,
}

fn booking_from_row(row: &PgRow, seats: Vec<BookedSeat>) -> Result<Booking, ApiError> {
    let event_id: String = row.try_get("event_id")?;
    Ok(Booking {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        event_id: EventId::parse(&event_id)
            .map_err(|_| ApiError::Internal(anyhow::anyhow!("stored booking has invalid event id")))?,
        status: row.try_get("status")?,
        total: Cents(row.try_get("total_cents")?),
        currency: row.try_get("currency")?,
        expires_at: row.try_get("expires_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        failure_reason: row.try_get("failure_reason")?,
        seats,
    })
}

const BOOKING_COLUMNS: &str =
    "id, user_id, event_id, status, total_cents, currency, expires_at, created_at, updated_at, failure_reason";

async fn seats_of(
    executor: impl sqlx::PgExecutor<'_>,
    booking_ids: &[Uuid],
) -> Result<Vec<(Uuid, BookedSeat)>, ApiError> {
    let rows = sqlx::query(
        "SELECT booking_id, seat_label, section, tier, price_cents FROM bookings_demo.booking_seats
         WHERE booking_id = ANY($1) ORDER BY booking_id, seat_label",
    )
    .persistent(false)
    .bind(booking_ids)
    .fetch_all(executor)
    .await?;
    rows.iter()
        .map(|row| {
            let tier: Tier = row.try_get("tier")?;
            Ok((
                row.try_get("booking_id")?,
                BookedSeat {
                    label: row.try_get("seat_label")?,
                    section: row.try_get("section")?,
                    tier,
                    price: Cents(row.try_get("price_cents")?),
                },
            ))
        })
        .collect()
}

/// Loads the bookings of `rows` with their seats, keeping the row order.
async fn with_seats(executor: impl sqlx::PgExecutor<'_>, rows: Vec<PgRow>) -> Result<Vec<Booking>, ApiError> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.try_get("id")).collect::<Result<_, _>>()?;
    let seats = seats_of(executor, &ids).await?;
    rows.iter()
        .map(|row| {
            let id: Uuid = row.try_get("id")?;
            let mine = seats.iter().filter(|(b, _)| *b == id).map(|(_, s)| s.clone()).collect();
            booking_from_row(row, mine)
        })
        .collect()
}

/// Inserts a PENDING booking, its seats, its `booking.requested` message and
/// its audit row in one statement: on the pool it is atomic by itself; the
/// waiting list runs it inside the transaction that records its offer.
#[allow(clippy::too_many_arguments)]
pub(super) async fn insert_booking<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    id: Uuid,
    user: Uuid,
    selection: &SeatSelection,
    currency: &str,
    expires_at: DateTime<Utc>,
    requested: &OutboxRow,
) -> Result<Booking, sqlx::Error> {
    let labels: Vec<String> = selection.seats.iter().map(|s| s.label.clone()).collect();
    let tiers: Vec<String> = selection
        .seats
        .iter()
        .map(|s| serde_json::to_value(s.tier).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default())
        .collect();
    let row = sqlx::query(&format!(
        "WITH booking AS (
            INSERT INTO bookings_demo.bookings (id, user_id, event_id, status, total_cents, currency, expires_at)
            VALUES ($1, $2, $3, 'PENDING', $4, $5, $6) RETURNING {BOOKING_COLUMNS}
         ), seats AS (
            INSERT INTO bookings_demo.booking_seats (booking_id, event_id, seat_label, section, tier, price_cents)
            SELECT $1, $3, * FROM UNNEST($7::text[], $8::text[], $9::text[], $10::bigint[])
         ), outbox AS (
            INSERT INTO bookings_demo.outbox (id, topic, message_key, payload) VALUES ($11, $12, $3, $13)
         ), audit AS (
            INSERT INTO bookings_demo.audit_log (booking_id, actor, action, to_status)
            VALUES ($1, $2::text, 'create', 'PENDING')
         )
         SELECT * FROM booking"
    ))
    .bind(id)
    .bind(user)
    .bind(selection.event_id.as_ref())
    .bind(selection.total.0)
    .bind(currency)
    .bind(expires_at)
    .bind(&labels)
    .bind(selection.seats.iter().map(|s| s.section.clone()).collect::<Vec<_>>())
    .bind(tiers)
    .bind(selection.seats.iter().map(|s| s.price.0).collect::<Vec<_>>())
    .bind(requested.id)
    .bind(&requested.topic)
    .bind(&requested.payload)
    .fetch_one(executor)
    .await?;
    booking_from_row(&row, selection.seats.clone()).map_err(|e| sqlx::Error::Protocol(e.to_string()))
}

/// Moves bookings that are in one of `from` to the final status `to`:
/// seats released, message queued (if any), audited. Returns the bookings
/// it changed and the outbox ids it wrote.
async fn close_bookings(
    tx: &mut Transaction<'_, Postgres>,
    ids: &[Uuid],
    from: &[BookingStatus],
    to: BookingStatus,
    topic: Option<&str>,
    actor: &str,
    reason: Option<&str>,
) -> Result<(Vec<Booking>, Vec<OutboxRow>), ApiError> {
    if ids.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
    let locked: Vec<(Uuid, BookingStatus)> = sqlx::query_as(
        "SELECT id, status FROM bookings_demo.bookings WHERE id = ANY($1) AND status = ANY($2) ORDER BY id FOR UPDATE",
    )
    .persistent(false)
    .bind(ids)
    .bind(&from)
    .fetch_all(&mut **tx)
    .await?;
    let changed: Vec<Uuid> = locked.iter().map(|(id, _)| *id).collect();
    let rows = sqlx::query(&format!(
        "UPDATE bookings_demo.bookings SET status = $2, failure_reason = COALESCE($3, failure_reason), updated_at = now()
         WHERE id = ANY($1) RETURNING {BOOKING_COLUMNS}"
    ))
    .persistent(false)
    .bind(&changed)
    .bind(to.as_str())
    .bind(reason)
    .fetch_all(&mut **tx)
    .await?;
    sqlx::query("UPDATE bookings_demo.booking_seats SET active = false WHERE booking_id = ANY($1)")
        .persistent(false)
        .bind(&changed)
        .execute(&mut **tx)
        .await?;
    let bookings = with_seats(&mut **tx, rows).await?;
    let mut outbox = Vec::new();
    for booking in &bookings {
        let old = locked.iter().find(|(id, _)| *id == booking.id).map(|(_, status)| *status);
        if let Some(topic) = topic {
            outbox.push(enqueue(tx, topic, &BookingMessage::of(booking)).await?);
        }
        audit(tx, booking.id, actor, topic.unwrap_or("fail"), old, to, None).await?;
    }
    Ok((bookings, outbox))
}

const OPEN_STATUSES: [BookingStatus; 2] = [BookingStatus::Pending, BookingStatus::Reserved];

/// The user's booking, locked for the rest of the transaction; someone
/// else's booking is reported as absent.
async fn lock_own(tx: &mut Transaction<'_, Postgres>, user: Uuid, id: Uuid) -> Result<Option<Booking>, ApiError> {
    let row = sqlx::query(&format!(
        "SELECT {BOOKING_COLUMNS} FROM bookings_demo.bookings WHERE id = $1 AND user_id = $2 FOR UPDATE"
    ))
    .bind(id)
    .bind(user)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(with_seats(&mut **tx, row.into_iter().collect()).await?.pop())
}

impl PgBookings {
    pub fn new(pool: PgPool) -> Self {
        PgBookings { pool }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Expires open bookings past their deadline that hold any of `labels`
    /// or are this user's open booking for the event.
    async fn expire_blockers(
        &self,
        user: Uuid,
        event: &EventId,
        labels: &[String],
    ) -> Result<(usize, Vec<OutboxRow>), ApiError> {
        let mut tx = self.pool.begin().await?;
        let stale: Vec<Uuid> = sqlx::query_scalar(&format!(
            "SELECT DISTINCT b.id FROM bookings_demo.bookings b
             LEFT JOIN bookings_demo.booking_seats s ON s.booking_id = b.id AND s.active
             WHERE b.status IN {OPEN} AND b.expires_at <= now()
               AND ((s.event_id = $1 AND s.seat_label = ANY($2)) OR (b.user_id = $3 AND b.event_id = $1))"
        ))
        .persistent(false)
        .bind(event.as_ref())
        .bind(labels)
        .bind(user)
        .fetch_all(&mut *tx)
        .await?;
        let (expired, rows) = close_bookings(
            &mut tx,
            &stale,
            &OPEN_STATUSES,
            BookingStatus::Expired,
            Some(kafka::BOOKING_EXPIRED),
            "lazy-expiry",
            None,
        )
        .await?;
        tx.commit().await?;
        Ok((expired.len(), rows))
    }

    pub(super) async fn conflict_of(
        &self,
        err: &sqlx::Error,
        event: &EventId,
        labels: &[String],
    ) -> Result<CreateConflict, ApiError> {
        let constraint = match err {
            sqlx::Error::Database(db) => db.constraint().map(str::to_owned),
            _ => None,
        };
        if constraint.as_deref() == Some("one_open_booking_per_user_event") {
            return Ok(CreateConflict::OpenBookingExists);
        }
        Ok(CreateConflict::SeatsTaken(self.active_seats(event, labels).await?))
    }
}

#[async_trait]
impl BookingRepo for PgBookings {
    /// Inserts the booking, its seats, its `booking.requested` message and
    /// its audit row in one statement (atomic without a transaction, one
    /// round trip). If a unique index refuses it, open bookings that block it
    /// but are past their deadline are expired (lazy expiry) and it is tried
    /// once more, so a seat the map shows as available can always be booked.
    async fn create(
        &self,
        id: Uuid,
        user: Uuid,
        selection: &SeatSelection,
        currency: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<CreateOutcome, ApiError> {
        let labels: Vec<String> = selection.seats.iter().map(|s| s.label.clone()).collect();
        let requested = OutboxRow::announcing(
            kafka::BOOKING_REQUESTED,
            &BookingMessage::requested(id, user, selection, expires_at),
        )?;
        let mut outbox = Vec::new();
        let mut retried = false;
        loop {
            match insert_booking(&self.pool, id, user, selection, currency, expires_at, &requested).await {
                Ok(booking) => {
                    outbox.push(requested);
                    return Ok(CreateOutcome::Created { booking, outbox });
                }
                Err(err) if is_unique_violation(&err) => {
                    if !retried {
                        let (expired, rows) = self.expire_blockers(user, &selection.event_id, &labels).await?;
                        outbox.extend(rows);
                        if expired > 0 {
                            retried = true;
                            continue;
                        }
                    }
                    return Ok(CreateOutcome::Refused(self.conflict_of(&err, &selection.event_id, &labels).await?));
                }
                Err(err) => return Err(err.into()),
            }
        }
    }

    /// What the user already has at this event, for the purchase limits:
    /// seats in their open or paid bookings, which of `labels` they let go
    /// (cancelled, or held until the hold lapsed) within `look_back`, and
    /// when their holds lapsed. A lapse is dated by the deadline it missed,
    /// whether or not a sweep has marked it EXPIRED yet.
    async fn purchase_history(
        &self,
        user: Uuid,
        event: &EventId,
        labels: &[String],
        look_back: Duration,
    ) -> Result<PurchaseHistory, ApiError> {
        type Row = (i64, Vec<String>, Vec<DateTime<Utc>>, Vec<bool>, Vec<DateTime<Utc>>);
        let (seats_owned, let_go_labels, let_go_at, let_go_lapsed, lapses): Row = sqlx::query_as(&format!(
            "WITH mine AS (
                SELECT b.id, b.status, b.expires_at, b.updated_at,
                       b.status IN ('EXPIRED', 'PENDING', 'RESERVED') AND b.expires_at <= now() AS lapsed
                  FROM bookings_demo.bookings b
                 WHERE b.user_id = $1 AND b.event_id = $2
             ), let_go AS (
                SELECT s.seat_label, CASE WHEN m.lapsed THEN m.expires_at ELSE m.updated_at END AS at, m.lapsed
                  FROM mine m JOIN bookings_demo.booking_seats s ON s.booking_id = m.id
                 WHERE s.seat_label = ANY($3) AND (m.status = 'CANCELLED' OR m.lapsed)
             )
             SELECT (SELECT count(*) FROM mine m JOIN bookings_demo.booking_seats s ON s.booking_id = m.id
                      WHERE s.active AND (m.status = 'CONFIRMED' OR (m.status IN {OPEN} AND m.expires_at > now()))),
                    ARRAY(SELECT seat_label FROM let_go WHERE at > now() - make_interval(secs => $4) ORDER BY at),
                    ARRAY(SELECT at FROM let_go WHERE at > now() - make_interval(secs => $4) ORDER BY at),
                    ARRAY(SELECT lapsed FROM let_go WHERE at > now() - make_interval(secs => $4) ORDER BY at),
                    ARRAY(SELECT expires_at FROM mine
                           WHERE lapsed AND expires_at > now() - make_interval(secs => $4) ORDER BY expires_at)"
        ))
        .persistent(false)
        .bind(user)
        .bind(event.as_ref())
        .bind(labels)
        .bind(look_back.as_secs_f64())
        .fetch_one(&self.pool)
        .await?;
        let let_go = let_go_labels
            .into_iter()
            .zip(let_go_at)
            .zip(let_go_lapsed)
            .map(|((label, at), lapsed)| SeatLetGo {
                label,
                at,
                how: if lapsed { LetGo::Lapsed } else { LetGo::Cancelled },
            })
            .collect();
        Ok(PurchaseHistory { seats_owned: seats_owned as u32, let_go, lapses })
    }

    async fn find(&self, id: Uuid) -> Result<Option<Booking>, ApiError> {
        let row = sqlx::query(&format!("SELECT {BOOKING_COLUMNS} FROM bookings_demo.bookings WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(with_seats(&self.pool, row.into_iter().collect()).await?.pop())
    }

    /// A page of the user's bookings, newest first. The status filter
    /// applies to the effective status (an open booking past its deadline is
    /// EXPIRED).
    async fn list_for_user(
        &self,
        user: Uuid,
        status: Option<BookingStatus>,
        limit: u32,
        offset: u64,
    ) -> Result<(Vec<Booking>, u64), ApiError> {
        let filter = match status {
            None => "TRUE".to_owned(),
            Some(BookingStatus::Expired) => {
                format!("(status = 'EXPIRED' OR (status IN {OPEN} AND expires_at <= now()))")
            }
            Some(open) if open.is_open() => format!("(status = '{}' AND expires_at > now())", open.as_str()),
            Some(other) => format!("status = '{}'", other.as_str()),
        };
        let total: i64 =
            sqlx::query_scalar(&format!("SELECT count(*) FROM bookings_demo.bookings WHERE user_id = $1 AND {filter}"))
                .bind(user)
                .fetch_one(&self.pool)
                .await?;
        let rows = sqlx::query(&format!(
            "SELECT {BOOKING_COLUMNS} FROM bookings_demo.bookings WHERE user_id = $1 AND {filter}
             ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
        ))
        .bind(user)
        .bind(i64::from(limit))
        .bind(offset as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok((with_seats(&self.pool, rows).await?, total as u64))
    }

    /// Which of `labels` are in an active booking now, and whose.
    async fn active_seats(&self, event: &EventId, labels: &[String]) -> Result<Vec<SeatOwner>, ApiError> {
        // The status decodes as the enum (sqlx::Type): a value the schema's
        // CHECK would never let in fails the query (a 500), not the client.
        let rows: Vec<(String, Uuid, BookingStatus, DateTime<Utc>)> = sqlx::query_as(
            "SELECT s.seat_label, b.id, b.status, b.expires_at
               FROM bookings_demo.booking_seats s JOIN bookings_demo.bookings b ON b.id = s.booking_id
              WHERE s.event_id = $1 AND s.seat_label = ANY($2) AND s.active
              ORDER BY s.seat_label",
        )
        .persistent(false)
        .bind(event.as_ref())
        .bind(labels)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(label, booking, status, expires_at)| SeatOwner { label, booking, status, expires_at })
            .collect())
    }

    /// The statuses of `ids` as readers see them at `now` (see
    /// `BookingStatus::effective`), without their seats: one indexed read for
    /// the consumers that only need to know which bookings are still open.
    /// Ids with no booking are absent from the map.
    async fn effective_statuses(
        &self,
        ids: &[Uuid],
        now: DateTime<Utc>,
    ) -> Result<std::collections::HashMap<Uuid, BookingStatus>, ApiError> {
        if ids.is_empty() {
            return Ok(Default::default());
        }
        let rows: Vec<(Uuid, BookingStatus, DateTime<Utc>)> =
            sqlx::query_as("SELECT id, status, expires_at FROM bookings_demo.bookings WHERE id = ANY($1)")
                .persistent(false)
                .bind(ids)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(|(id, status, expires_at)| (id, status.effective(expires_at, now))).collect())
    }

    /// Cancels the user's booking. Returns the booking after the change and
    /// the outbox ids to publish; cancelling a cancelled booking changes
    /// nothing. A confirmed booking's payment is marked refunded (the
    /// caller refunds it at the provider).
    async fn cancel(&self, user: Uuid, id: Uuid, event_starts_at: DateTime<Utc>) -> Result<CancelOutcome, ApiError> {
        let mut tx = self.pool.begin().await?;
        let Some(booking) = lock_own(&mut tx, user, id).await? else {
            return Ok(CancelOutcome::NotFound);
        };
        // A new statement after the lock: under READ COMMITTED it sees a
        // check-in that committed while this cancel waited for the row.
        let admitted: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM bookings_demo.checkins WHERE booking_id = $1)")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
        let facts = CancelFacts { now: Utc::now(), event_starts_at, admitted };
        let refund = match booking.on_cancel(facts) {
            CancelVerdict::AlreadyCancelled => return Ok(CancelOutcome::Unchanged(booking)),
            CancelVerdict::Closed(status) => return Ok(CancelOutcome::NotCancellable(status)),
            CancelVerdict::TooLate(why) => return Ok(CancelOutcome::TooLate(why)),
            CancelVerdict::Cancel { refund: true } => {
                owe_refund_of_booking(&mut tx, id, "cancelled by the buyer").await?
            }
            CancelVerdict::Cancel { refund: false } => None,
        };
        let updated = sqlx::query(&format!(
            "UPDATE bookings_demo.bookings SET status = 'CANCELLED', updated_at = now() WHERE id = $1
             RETURNING {BOOKING_COLUMNS}"
        ))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("UPDATE bookings_demo.booking_seats SET active = false WHERE booking_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let cancelled = booking_from_row(&updated, booking.seats.clone())?;
        let message = BookingMessage {
            refund_cents: refund.as_ref().map(|owed| owed.refund.amount.0),
            ..BookingMessage::of(&cancelled)
        };
        let outbox = vec![enqueue(&mut tx, kafka::BOOKING_CANCELLED, &message).await?];
        let detail = refund
            .as_ref()
            .map(|owed| serde_json::json!({ "refundOf": owed.payment, "amountCents": owed.refund.amount.0 }));
        audit(&mut tx, id, &user.to_string(), "cancel", Some(booking.status), BookingStatus::Cancelled, detail).await?;
        tx.commit().await?;
        Ok(CancelOutcome::Cancelled { booking: cancelled, outbox, refund })
    }

    /// seat.reserved for a batch of bookings: PENDING → RESERVED, audited,
    /// in one statement (one round trip and one commit per batch). Anything
    /// else (already reserved, paid, cancelled, expired) is left alone, which
    /// is what makes a redelivery harmless. Returns how many changed.
    async fn mark_reserved(&self, ids: &[Uuid]) -> Result<u64, ApiError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let changed = sqlx::query(
            "WITH reserved AS (
                 UPDATE bookings_demo.bookings SET status = 'RESERVED', updated_at = now()
                 WHERE id = ANY($1) AND status = 'PENDING'
                 RETURNING id
             )
             INSERT INTO bookings_demo.audit_log (booking_id, actor, action, from_status, to_status)
             SELECT id, 'seat-events', 'seat.reserved', 'PENDING', 'RESERVED' FROM reserved",
        )
        .persistent(false)
        .bind(ids)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(changed)
    }

    /// seat.reservation_failed: the booking fails and its seats are freed.
    /// If it was already paid, the payment is marked refunded and returned
    /// so the caller refunds it at the provider.
    async fn mark_failed(&self, id: Uuid, reason: &str) -> Result<FailOutcome, ApiError> {
        let mut tx = self.pool.begin().await?;
        // Only a booking that is still CONFIRMED owes its payment back here:
        // one cancelled after paying already owes it through the cancel.
        let status: Option<BookingStatus> =
            sqlx::query_scalar("SELECT status FROM bookings_demo.bookings WHERE id = $1 FOR UPDATE")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let refund = match status {
            Some(BookingStatus::Confirmed) => {
                owe_refund_of_booking(&mut tx, id, "its seats could not be reserved").await?
            }
            _ => None,
        };
        // The seat read model never held these seats for this booking (that
        // is what failed), so no message is needed to release them there.
        let from = [BookingStatus::Pending, BookingStatus::Reserved, BookingStatus::Confirmed];
        let (failed, outbox) =
            close_bookings(&mut tx, &[id], &from, BookingStatus::Failed, None, "seat-events", Some(reason)).await?;
        tx.commit().await?;
        Ok(FailOutcome { booking: failed.into_iter().next(), outbox, refund })
    }

    /// Expires up to `limit` open bookings past their deadline. SKIP LOCKED
    /// lets several expirers (or a pay in progress) run without waiting.
    async fn expire_due(&self, limit: u32) -> Result<(Vec<Booking>, Vec<OutboxRow>), ApiError> {
        let mut tx = self.pool.begin().await?;
        let due: Vec<Uuid> = sqlx::query_scalar(&format!(
            "SELECT id FROM bookings_demo.bookings WHERE status IN {OPEN} AND expires_at <= now()
             ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED"
        ))
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        let expired = close_bookings(
            &mut tx,
            &due,
            &OPEN_STATUSES,
            BookingStatus::Expired,
            Some(kafka::BOOKING_EXPIRED),
            "expirer",
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(expired)
    }
}
