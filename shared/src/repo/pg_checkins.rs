//! Door check-ins in PostgreSQL (`bookings_demo.checkins`): one statement
//! per scan checks the booking and admits the ticket, and the primary key
//! on the ticket id admits it once however many gates scan it together.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::CheckInStore;
use crate::{
    domain::{
        booking::BookingStatus,
        ticket::{CheckInOutcome, TicketClaims},
    },
    error::ApiError,
};

pub struct PgCheckIns {
    pool: PgPool,
}

impl PgCheckIns {
    pub fn new(pool: PgPool) -> Self {
        PgCheckIns { pool }
    }

    async fn earlier(&self, ticket: Uuid) -> Result<Option<(DateTime<Utc>, String)>, ApiError> {
        Ok(sqlx::query_as("SELECT checked_in_at, gate FROM bookings_demo.checkins WHERE ticket_id = $1")
            .bind(ticket)
            .fetch_optional(&self.pool)
            .await?)
    }
}

#[async_trait]
impl CheckInStore for PgCheckIns {
    async fn check_in(&self, ticket: &TicketClaims, gate: &str, staff: Uuid) -> Result<CheckInOutcome, ApiError> {
        // The insert happens only for a seat of a CONFIRMED booking; a scan
        // that loses the race on the key inserts nothing. An earlier
        // check-in is read in the same statement (so a repeat scan, the
        // common case at a busy gate, is one round trip); one committed
        // while this statement waited on the key is not in its snapshot.
        // The booking row is share-locked, the row a cancel locks for
        // update: a scan waits for a cancel in flight and then reads
        // CANCELLED, and a cancel waits for the scan and then sees its
        // check-in, so a ticket is never both used and refunded.
        type Row = (Option<DateTime<Utc>>, Option<BookingStatus>, Option<DateTime<Utc>>, Option<String>);
        let (admitted_at, status, earlier_at, earlier_gate): Row = sqlx::query_as(
            "WITH seat AS (
                 SELECT b.status FROM bookings_demo.bookings b
                   JOIN bookings_demo.booking_seats s ON s.booking_id = b.id AND s.seat_label = $4
                  WHERE b.id = $2 AND b.event_id = $3
                  FOR SHARE OF b
             ), admitted AS (
                 INSERT INTO bookings_demo.checkins (ticket_id, booking_id, event_id, seat_label, gate, checked_in_by)
                 SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM seat WHERE status = 'CONFIRMED')
                 ON CONFLICT (ticket_id) DO NOTHING
                 RETURNING checked_in_at
             ), earlier AS (
                 SELECT checked_in_at, gate FROM bookings_demo.checkins WHERE ticket_id = $1
             )
             SELECT (SELECT checked_in_at FROM admitted), (SELECT status FROM seat),
                    (SELECT checked_in_at FROM earlier), (SELECT gate FROM earlier)",
        )
        .bind(ticket.tid)
        .bind(ticket.bkg)
        .bind(&ticket.evt)
        .bind(&ticket.seat)
        .bind(gate)
        .bind(staff)
        .fetch_one(&self.pool)
        .await?;
        if let Some(at) = admitted_at {
            return Ok(CheckInOutcome::Admitted { at });
        }
        if status != Some(BookingStatus::Confirmed) {
            return Ok(CheckInOutcome::Void { status });
        }
        if let (Some(at), Some(gate)) = (earlier_at, earlier_gate) {
            return Ok(CheckInOutcome::AlreadyAdmitted { at, gate });
        }
        // Admitted by a scan that committed while this one waited on the
        // key: a fresh statement sees it.
        match self.earlier(ticket.tid).await? {
            Some((at, gate)) => Ok(CheckInOutcome::AlreadyAdmitted { at, gate }),
            None => Err(ApiError::Internal(anyhow::anyhow!("ticket {} neither admitted nor found", ticket.tid))),
        }
    }
}
