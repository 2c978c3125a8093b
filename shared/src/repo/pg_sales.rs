//! Sales counters in PostgreSQL (`analytics.event_minutes`, one row per
//! event and minute). A batch's messages are marked processed and counted in
//! one transaction, so each message is counted once however often Kafka
//! delivers it and however many consumer instances see it at the same time.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    domain::sales::{tally, SaleRecord, SalesCounts},
    error::ApiError,
};

/// The name under which the analytics consumer records what it processed.
pub const CONSUMER: &str = "analytics";

const COUNT_COLUMNS: &str = "requested, seats_requested, confirmed, seats_sold, gross_cents, cancelled, \
     seats_cancelled, refunded_cents, expired, failed, first_request_at, last_sale_at";

#[derive(sqlx::FromRow)]
struct CountsRow {
    requested: i64,
    seats_requested: i64,
    confirmed: i64,
    seats_sold: i64,
    gross_cents: i64,
    cancelled: i64,
    seats_cancelled: i64,
    refunded_cents: i64,
    expired: i64,
    failed: i64,
    first_request_at: Option<DateTime<Utc>>,
    last_sale_at: Option<DateTime<Utc>>,
}

impl From<CountsRow> for SalesCounts {
    fn from(row: CountsRow) -> Self {
        SalesCounts {
            requested: row.requested,
            seats_requested: row.seats_requested,
            confirmed: row.confirmed,
            seats_sold: row.seats_sold,
            gross_cents: row.gross_cents,
            cancelled: row.cancelled,
            seats_cancelled: row.seats_cancelled,
            refunded_cents: row.refunded_cents,
            expired: row.expired,
            failed: row.failed,
            first_request_at: row.first_request_at,
            last_sale_at: row.last_sale_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct MinuteRow {
    minute: DateTime<Utc>,
    #[sqlx(flatten)]
    counts: CountsRow,
}

#[derive(Clone)]
pub struct PgSales {
    pool: PgPool,
}

impl PgSales {
    pub fn new(pool: PgPool) -> Self {
        PgSales { pool }
    }

    /// Counts the records whose message id this consumer has not counted
    /// before; returns how many were new.
    pub async fn count(&self, records: &[(Uuid, SaleRecord)]) -> Result<usize, ApiError> {
        if records.is_empty() {
            return Ok(0);
        }
        let ids: Vec<Uuid> = records.iter().map(|(id, _)| *id).collect();
        let mut tx = self.pool.begin().await?;
        let fresh: Vec<Uuid> = sqlx::query_scalar(
            "INSERT INTO bookings_demo.processed_messages (consumer, message_id)
             SELECT $1, * FROM UNNEST($2::uuid[]) ON CONFLICT DO NOTHING RETURNING message_id",
        )
        .persistent(false)
        .bind(CONSUMER)
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?;
        let fresh: std::collections::HashSet<Uuid> = fresh.into_iter().collect();
        let new: Vec<SaleRecord> =
            records.iter().filter(|(id, _)| fresh.contains(id)).map(|(_, record)| record.clone()).collect();
        // Rows in key order, so two batches touching the same minutes lock
        // them in the same order and never deadlock.
        for ((event, minute), counts) in tally(&new) {
            sqlx::query(&format!(
                "INSERT INTO analytics.event_minutes (event_id, minute, {COUNT_COLUMNS})
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
                 ON CONFLICT (event_id, minute) DO UPDATE SET
                    requested = event_minutes.requested + EXCLUDED.requested,
                    seats_requested = event_minutes.seats_requested + EXCLUDED.seats_requested,
                    confirmed = event_minutes.confirmed + EXCLUDED.confirmed,
                    seats_sold = event_minutes.seats_sold + EXCLUDED.seats_sold,
                    gross_cents = event_minutes.gross_cents + EXCLUDED.gross_cents,
                    cancelled = event_minutes.cancelled + EXCLUDED.cancelled,
                    seats_cancelled = event_minutes.seats_cancelled + EXCLUDED.seats_cancelled,
                    refunded_cents = event_minutes.refunded_cents + EXCLUDED.refunded_cents,
                    expired = event_minutes.expired + EXCLUDED.expired,
                    failed = event_minutes.failed + EXCLUDED.failed,
                    first_request_at = LEAST(event_minutes.first_request_at, EXCLUDED.first_request_at),
                    last_sale_at = GREATEST(event_minutes.last_sale_at, EXCLUDED.last_sale_at)"
            ))
            .bind(&event)
            .bind(minute)
            .bind(counts.requested as i32)
            .bind(counts.seats_requested as i32)
            .bind(counts.confirmed as i32)
            .bind(counts.seats_sold as i32)
            .bind(counts.gross_cents)
            .bind(counts.cancelled as i32)
            .bind(counts.seats_cancelled as i32)
            .bind(counts.refunded_cents)
            .bind(counts.expired as i32)
            .bind(counts.failed as i32)
            .bind(counts.first_request_at)
            .bind(counts.last_sale_at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(new.len())
    }

    /// The event's counters summed over every minute.
    pub async fn totals(&self, event: &str) -> Result<SalesCounts, ApiError> {
        let row: CountsRow = sqlx::query_as(
            "SELECT COALESCE(SUM(requested), 0)::bigint AS requested,
                    COALESCE(SUM(seats_requested), 0)::bigint AS seats_requested,
                    COALESCE(SUM(confirmed), 0)::bigint AS confirmed,
                    COALESCE(SUM(seats_sold), 0)::bigint AS seats_sold,
                    COALESCE(SUM(gross_cents), 0)::bigint AS gross_cents,
                    COALESCE(SUM(cancelled), 0)::bigint AS cancelled,
                    COALESCE(SUM(seats_cancelled), 0)::bigint AS seats_cancelled,
                    COALESCE(SUM(refunded_cents), 0)::bigint AS refunded_cents,
                    COALESCE(SUM(expired), 0)::bigint AS expired,
                    COALESCE(SUM(failed), 0)::bigint AS failed,
                    MIN(first_request_at) AS first_request_at,
                    MAX(last_sale_at) AS last_sale_at
               FROM analytics.event_minutes WHERE event_id = $1",
        )
        .bind(event)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.into())
    }

    /// Up to `limit` minutes with activity from `from` on, oldest first.
    pub async fn minutes(
        &self,
        event: &str,
        from: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<(DateTime<Utc>, SalesCounts)>, ApiError> {
        let rows: Vec<MinuteRow> = sqlx::query_as(
            "SELECT minute, requested::bigint, seats_requested::bigint, confirmed::bigint, seats_sold::bigint,
                    gross_cents, cancelled::bigint, seats_cancelled::bigint, refunded_cents, expired::bigint,
                    failed::bigint, first_request_at, last_sale_at
               FROM analytics.event_minutes WHERE event_id = $1 AND minute >= $2
              ORDER BY minute LIMIT $3",
        )
        .bind(event)
        .bind(from)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|row| (row.minute, row.counts.into())).collect())
    }

    /// Tickets of the event admitted at the door so far.
    pub async fn admitted(&self, event: &str) -> Result<i64, ApiError> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM bookings_demo.checkins WHERE event_id = $1")
            .bind(event)
            .fetch_one(&self.pool)
            .await?)
    }
}
