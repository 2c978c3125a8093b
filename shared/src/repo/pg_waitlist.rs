//! The waiting list in PostgreSQL (`bookings_demo.waitlist`). An offer is
//! one transaction: the entry moves WAITING → OFFERED and its booking is
//! inserted with the same statement POST /bookings uses, so the seats'
//! unique index judges an offer exactly as it judges a buyer.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::{
    booking_ports::OutboxRow,
    is_unique_violation,
    pg_bookings::{enqueue, insert_booking, PgBookings},
    Offer, OfferMade, WaitlistStore,
};
use crate::{
    domain::{
        event::EventId,
        waitlist::{Entry, EntryState},
    },
    error::ApiError,
    kafka,
    messages::BookingMessage,
};

pub struct PgWaitlist {
    pool: PgPool,
}

impl PgWaitlist {
    pub fn new(pool: PgPool) -> Self {
        PgWaitlist { pool }
    }
}

const ENTRY_COLUMNS: &str = "id, event_id, user_id, seats, state, booking_id, offer_expires_at, joined_at";

#[derive(sqlx::FromRow)]
struct EntryRow {
    id: i64,
    event_id: String,
    user_id: Uuid,
    seats: i16,
    state: String,
    booking_id: Option<Uuid>,
    offer_expires_at: Option<DateTime<Utc>>,
    joined_at: DateTime<Utc>,
}

impl TryFrom<EntryRow> for Entry {
    type Error = ApiError;
    fn try_from(row: EntryRow) -> Result<Self, ApiError> {
        // The table's CHECKs keep these in range; a row that is not is corrupt.
        let corrupt = |what: &str| ApiError::Internal(anyhow::anyhow!("waitlist row {}: bad {what}", row.id));
        Ok(Entry {
            id: row.id,
            seats: u8::try_from(row.seats).map_err(|_| corrupt("seats"))?,
            state: EntryState::parse(&row.state).ok_or_else(|| corrupt("state"))?,
            event_id: row.event_id,
            user_id: row.user_id,
            booking_id: row.booking_id,
            offer_expires_at: row.offer_expires_at,
            joined_at: row.joined_at,
        })
    }
}

fn entries(rows: Vec<EntryRow>) -> Result<Vec<Entry>, ApiError> {
    rows.into_iter().map(Entry::try_from).collect()
}

#[async_trait]
impl WaitlistStore for PgWaitlist {
    async fn join(&self, event: &EventId, user: Uuid, seats: u8) -> Result<(Entry, bool), ApiError> {
        // Two joins at once: one inserts, the other finds nothing inserted
        // and reads the winner's entry (the unique index serialises them).
        let inserted: Option<EntryRow> = sqlx::query_as(&format!(
            "INSERT INTO bookings_demo.waitlist (event_id, user_id, seats, state) VALUES ($1, $2, $3, 'WAITING')
             ON CONFLICT (event_id, user_id) WHERE state IN ('WAITING', 'OFFERED') DO NOTHING
             RETURNING {ENTRY_COLUMNS}"
        ))
        .bind(event.as_ref())
        .bind(user)
        .bind(i16::from(seats))
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = inserted {
            return Ok((row.try_into()?, true));
        }
        match self.latest(event, user).await? {
            Some(entry) if matches!(entry.state, EntryState::Waiting | EntryState::Offered) => Ok((entry, false)),
            // Left between our insert and this read: rare; the fan asks again.
            _ => Err(ApiError::Unavailable("The waiting list changed while joining; try again".into())),
        }
    }

    async fn latest(&self, event: &EventId, user: Uuid) -> Result<Option<Entry>, ApiError> {
        let row: Option<EntryRow> = sqlx::query_as(&format!(
            "SELECT {ENTRY_COLUMNS} FROM bookings_demo.waitlist WHERE event_id = $1 AND user_id = $2
              ORDER BY id DESC LIMIT 1"
        ))
        .bind(event.as_ref())
        .bind(user)
        .fetch_optional(&self.pool)
        .await?;
        row.map(Entry::try_from).transpose()
    }

    async fn position(&self, entry: &Entry) -> Result<u64, ApiError> {
        let ahead: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM bookings_demo.waitlist WHERE event_id = $1 AND state = 'WAITING' AND id < $2",
        )
        .bind(&entry.event_id)
        .bind(entry.id)
        .fetch_one(&self.pool)
        .await?;
        Ok(ahead as u64 + 1)
    }

    async fn leave(&self, event: &EventId, user: Uuid) -> Result<Option<Entry>, ApiError> {
        let left: Option<EntryRow> = sqlx::query_as(&format!(
            "UPDATE bookings_demo.waitlist SET state = 'LEFT', updated_at = now()
              WHERE event_id = $1 AND user_id = $2 AND state = 'WAITING' RETURNING {ENTRY_COLUMNS}"
        ))
        .bind(event.as_ref())
        .bind(user)
        .fetch_optional(&self.pool)
        .await?;
        match left {
            Some(row) => Ok(Some(row.try_into()?)),
            None => Ok(self.latest(event, user).await?.filter(|e| e.state == EntryState::Offered)),
        }
    }

    async fn waiting(&self, event: &EventId, limit: u32) -> Result<Vec<Entry>, ApiError> {
        let rows: Vec<EntryRow> = sqlx::query_as(&format!(
            "SELECT {ENTRY_COLUMNS} FROM bookings_demo.waitlist WHERE event_id = $1 AND state = 'WAITING'
              ORDER BY id LIMIT $2"
        ))
        .bind(event.as_ref())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        entries(rows)
    }

    async fn pass_offer(&self, booking: Uuid) -> Result<Option<Entry>, ApiError> {
        let row: Option<EntryRow> = sqlx::query_as(&format!(
            "UPDATE bookings_demo.waitlist SET state = 'PASSED', updated_at = now()
              WHERE booking_id = $1 AND state = 'OFFERED' RETURNING {ENTRY_COLUMNS}"
        ))
        .bind(booking)
        .fetch_optional(&self.pool)
        .await?;
        row.map(Entry::try_from).transpose()
    }

    async fn offer(&self, offer: &Offer<'_>) -> Result<OfferMade, ApiError> {
        let Offer { entry, booking, selection, currency, expires_at } = *offer;
        let message = BookingMessage::requested(booking, entry.user_id, selection, expires_at);
        let requested = OutboxRow::announcing(kafka::BOOKING_REQUESTED, &message)?;
        let mut tx = self.pool.begin().await?;
        let created =
            insert_booking(&mut *tx, booking, entry.user_id, selection, currency, expires_at, &requested).await;
        let made = match created {
            Ok(made) => made,
            Err(err) if is_unique_violation(&err) => {
                tx.rollback().await?;
                let labels = message.seats;
                let conflict =
                    PgBookings::new(self.pool.clone()).conflict_of(&err, &selection.event_id, &labels).await?;
                return Ok(OfferMade::Refused(conflict));
            }
            Err(err) => return Err(err.into()),
        };
        // Only a fan still waiting is offered the seats: one who left a
        // moment ago, or whom another offer reached first, rolls it all back.
        let claimed = sqlx::query(
            "UPDATE bookings_demo.waitlist SET state = 'OFFERED', booking_id = $2, offer_expires_at = $3, updated_at = now()
              WHERE id = $1 AND state = 'WAITING'",
        )
        .bind(entry.id)
        .bind(booking)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        if claimed.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(OfferMade::EntryGone);
        }
        let offered = enqueue(&mut tx, kafka::WAITLIST_OFFERED, &message).await?;
        tx.commit().await?;
        Ok(OfferMade::Made { booking: made, outbox: vec![requested, offered] })
    }
}
