//! The notification ledger in PostgreSQL (`bookings_demo.notifications`),
//! and the owner and payment facts a notice tells.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::PgPool;
use uuid::Uuid;

use super::{NoticeClaim, NoticeEnd, NoticeLedger};
use crate::{
    domain::{
        money::Cents,
        notice::{NoticeKind, Payment, Recipient},
    },
    error::ApiError,
};

pub struct PgNotices {
    pool: PgPool,
}

impl PgNotices {
    pub fn new(pool: PgPool) -> Self {
        PgNotices { pool }
    }

    /// Who owns `booking`, and what became of its charge; `None` if the
    /// owner's account is gone.
    pub async fn recipient_and_payment(
        &self,
        user: Uuid,
        booking: Uuid,
    ) -> Result<Option<(Recipient, Payment)>, ApiError> {
        let row: Option<(String, bool, Option<String>, Option<i64>)> = sqlx::query_as(
            "SELECT u.email, u.email_verified_at IS NOT NULL, p.status, p.amount_cents
               FROM users_demo.users u
               LEFT JOIN bookings_demo.payments p
                 ON p.booking_id = $2 AND p.status IN ('SUCCEEDED', 'REFUND_PENDING', 'REFUNDED')
              WHERE u.id = $1",
        )
        .bind(user)
        .bind(booking)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(email, verified, status, amount)| {
            let amount = Cents(amount.unwrap_or_default());
            let payment = match status.as_deref() {
                Some("SUCCEEDED") => Payment::Paid(amount),
                Some("REFUND_PENDING") => Payment::RefundOwed(amount),
                Some("REFUNDED") => Payment::Refunded(amount),
                _ => Payment::Unpaid,
            };
            (Recipient { email, verified }, payment)
        }))
    }
}

#[async_trait]
impl NoticeLedger for PgNotices {
    async fn claim(&self, booking: Uuid, kind: NoticeKind, lease: Duration) -> Result<NoticeClaim, ApiError> {
        // One statement: the first delivery inserts the row; a later one
        // takes it over only if it was handed back (RETRY) or its sender's
        // lease lapsed. The primary key makes concurrent first deliveries
        // one insert and one conflict, and the conflict's row lock makes
        // concurrent takeovers one winner.
        let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
        let claimed: Option<(i32,)> = sqlx::query_as(
            "INSERT INTO bookings_demo.notifications (booking_id, kind, state, lease_until)
             VALUES ($1, $2, 'SENDING', now() + $3 * interval '1 millisecond')
             ON CONFLICT (booking_id, kind) DO UPDATE
                SET state = 'SENDING', lease_until = EXCLUDED.lease_until,
                    attempts = bookings_demo.notifications.attempts + 1
              WHERE bookings_demo.notifications.state = 'RETRY'
                 OR (bookings_demo.notifications.state = 'SENDING' AND bookings_demo.notifications.lease_until < now())
             RETURNING attempts",
        )
        .bind(booking)
        .bind(kind.as_str())
        .bind(lease_ms)
        .fetch_optional(&self.pool)
        .await?;
        if let Some((attempt,)) = claimed {
            return Ok(NoticeClaim::Ours { attempt });
        }
        let (state,): (String,) =
            sqlx::query_as("SELECT state FROM bookings_demo.notifications WHERE booking_id = $1 AND kind = $2")
                .bind(booking)
                .bind(kind.as_str())
                .fetch_one(&self.pool)
                .await?;
        // RETRY here means it was handed back between the two statements:
        // the caller asks again after its short wait.
        Ok(if matches!(state.as_str(), "SENDING" | "RETRY") { NoticeClaim::Busy } else { NoticeClaim::Done })
    }

    async fn settle(&self, booking: Uuid, kind: NoticeKind, attempt: i32, end: NoticeEnd<'_>) -> Result<(), ApiError> {
        let (state, recipient, provider_id, error) = match end {
            NoticeEnd::Sent { recipient, provider_id } => ("SENT", Some(recipient), Some(provider_id), None),
            NoticeEnd::Refused { recipient, error } => ("REFUSED", Some(recipient), None, Some(error)),
            NoticeEnd::Skipped(reason) => ("SKIPPED", None, None, Some(reason)),
            NoticeEnd::Retry(error) => ("RETRY", None, None, Some(error)),
        };
        // Only the claim still held is settled: a sender whose lease lapsed
        // and was taken over must not overwrite its successor's outcome.
        sqlx::query(
            "UPDATE bookings_demo.notifications
                SET state = $3, recipient = COALESCE($4, recipient), provider_id = $5, last_error = $6,
                    sent_at = CASE WHEN $3 = 'SENT' THEN now() END
              WHERE booking_id = $1 AND kind = $2 AND state = 'SENDING' AND attempts = $7",
        )
        .bind(booking)
        .bind(kind.as_str())
        .bind(state)
        .bind(recipient)
        .bind(provider_id)
        .bind(error)
        .bind(attempt)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
