//! Payments of bookings: a pay is recorded before the provider is called
//! and settled after, outside any row lock; a refund is recorded as owed in
//! the commit that makes it due and carried out by whoever holds its lease.

use std::time::Duration;

use chrono::Utc;

use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use async_trait::async_trait;

use super::{booking_from_row, lock_own, outbox::audit, outbox::enqueue, PgBookings, BOOKING_COLUMNS};
use crate::{
    domain::{
        booking::{Booking, BookingStatus, PayVerdict},
        money::Cents,
    },
    error::ApiError,
    kafka,
    messages::BookingMessage,
    payments::{Charge, Refund},
    repo::booking_ports::{OwedRefund, PayOutcome, PaymentRecords, PaymentStart},
};

/// How long the caller that recorded a refund has to carry it out before
/// the sweeper may try it too.
const REFUND_LEASE_SECS: f64 = 30.0;

/// Marks `payment` (charged with `reference`) as owed back.
async fn owe_refund(
    tx: &mut Transaction<'_, Postgres>,
    payment: Uuid,
    reference: Option<&str>,
    why: &str,
) -> Result<OwedRefund, ApiError> {
    let (booking, reference, cents): (Uuid, Option<String>, i64) = sqlx::query_as(
        "UPDATE bookings_demo.payments
            SET status = 'REFUND_PENDING', provider_ref = COALESCE($2, provider_ref), refund_error = NULL,
                failure_code = $3, refund_due_at = now() + make_interval(secs => $4)
          WHERE id = $1 RETURNING booking_id, provider_ref, amount_cents",
    )
    .bind(payment)
    .bind(reference)
    .bind(why)
    .bind(REFUND_LEASE_SECS)
    .fetch_one(&mut **tx)
    .await?;
    Ok(OwedRefund { payment, refund: Refund { booking, reference, amount: Cents(cents) } })
}

/// The booking's successful payment, now owed back; `None` if it has none.
pub(super) async fn owe_refund_of_booking(
    tx: &mut Transaction<'_, Postgres>,
    booking: Uuid,
    why: &str,
) -> Result<Option<OwedRefund>, ApiError> {
    let paid: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM bookings_demo.payments WHERE booking_id = $1 AND status = 'SUCCEEDED' FOR UPDATE",
    )
    .bind(booking)
    .fetch_optional(&mut **tx)
    .await?;
    match paid {
        Some(payment) => Ok(Some(owe_refund(tx, payment, None, why).await?)),
        None => Ok(None),
    }
}

#[async_trait]
impl PaymentRecords for PgBookings {
    /// A pay's first step, under the booking's row lock: the booking must be
    /// payable and have no charge yet; then a PROCESSING payment is recorded
    /// and committed, so a second pay finds it (the unique index
    /// `one_charge_per_booking` is the backstop) and the provider is called
    /// with no lock held.
    async fn begin_payment(&self, user: Uuid, id: Uuid, card_last4: &str) -> Result<PaymentStart, ApiError> {
        let mut tx = self.pool.begin().await?;
        let Some(booking) = lock_own(&mut tx, user, id).await? else {
            return Ok(PaymentStart::NotFound);
        };
        match booking.on_pay(Utc::now()) {
            PayVerdict::Charge => {}
            PayVerdict::AlreadyPaid => return Ok(PaymentStart::AlreadyPaid),
            PayVerdict::Closed(status) => return Ok(PaymentStart::NotPayable(status)),
        }
        let charged: Option<String> = sqlx::query_scalar(
            "SELECT status FROM bookings_demo.payments
             WHERE booking_id = $1 AND status IN ('PROCESSING', 'SUCCEEDED', 'REFUND_PENDING', 'REFUNDED')",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        match charged.as_deref() {
            None => {}
            Some("PROCESSING") => return Ok(PaymentStart::InProgress),
            Some(_) => return Ok(PaymentStart::AlreadyPaid),
        }
        let payment = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO bookings_demo.payments (id, booking_id, user_id, amount_cents, currency, status, card_last4)
             VALUES ($1, $2, $3, $4, $5, 'PROCESSING', $6)",
        )
        .bind(payment)
        .bind(id)
        .bind(user)
        .bind(booking.total.0)
        .bind(&booking.currency)
        .bind(card_last4)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(PaymentStart::Started { booking, payment })
    }

    /// A pay's last step, with the provider's answer for `payment`. An
    /// approved charge confirms the booking if it is still payable; if it
    /// lapsed, was cancelled or failed while the provider was deciding, the
    /// money is owed back (returned for the caller to refund).
    async fn finish_payment(&self, booking: &Booking, payment: Uuid, charge: Charge) -> Result<PayOutcome, ApiError> {
        let fail = |status: &'static str, code: &'static str| {
            sqlx::query("UPDATE bookings_demo.payments SET status = $2, failure_code = $3 WHERE id = $1")
                .bind(payment)
                .bind(status)
                .bind(code)
        };
        let reference = match charge {
            Charge::Declined { code } => {
                fail("DECLINED", code).execute(&self.pool).await?;
                return Ok(PayOutcome::Declined(code));
            }
            Charge::Unavailable => {
                fail("FAILED", "provider_unavailable").execute(&self.pool).await?;
                return Ok(PayOutcome::ProviderUnavailable);
            }
            Charge::Approved { reference } => reference,
        };
        let mut tx = self.pool.begin().await?;
        let Some(current) = lock_own(&mut tx, booking.user_id, booking.id).await? else {
            return Err(ApiError::Internal(anyhow::anyhow!("booking {} vanished during its payment", booking.id)));
        };
        let closed = current.on_pay(Utc::now()).refusal();
        if let Some(status) = closed {
            let refund = owe_refund(&mut tx, payment, Some(&reference), "charged after the booking closed").await?;
            tx.commit().await?;
            return Ok(PayOutcome::ChargedTooLate { status, refund });
        }
        sqlx::query("UPDATE bookings_demo.payments SET status = 'SUCCEEDED', provider_ref = $2 WHERE id = $1")
            .bind(payment)
            .bind(&reference)
            .execute(&mut *tx)
            .await?;
        let updated = sqlx::query(&format!(
            "UPDATE bookings_demo.bookings SET status = 'CONFIRMED', updated_at = now() WHERE id = $1
             RETURNING {BOOKING_COLUMNS}"
        ))
        .bind(booking.id)
        .fetch_one(&mut *tx)
        .await?;
        let confirmed = booking_from_row(&updated, current.seats.clone())?;
        let outbox = vec![enqueue(&mut tx, kafka::BOOKING_CONFIRMED, &BookingMessage::of(&confirmed)).await?];
        let detail = serde_json::json!({ "payment": payment, "reference": reference });
        let actor = booking.user_id.to_string();
        audit(&mut tx, booking.id, &actor, "pay", Some(current.status), BookingStatus::Confirmed, Some(detail)).await?;
        tx.commit().await?;
        Ok(PayOutcome::Confirmed { booking: confirmed, outbox })
    }

    /// Refunds that are owed and due, each leased for `lease` so no other
    /// sweeper takes it while the provider is called. Charges stuck in
    /// PROCESSING for longer than `abandoned_after` (the process died while
    /// the provider decided) become owed refunds first: the money may have
    /// been taken, and a refund of a charge that never happened is a no-op
    /// for the provider, which knows both by the same key.
    async fn claim_due_refunds(
        &self,
        limit: u32,
        lease: Duration,
        abandoned_after: Duration,
    ) -> Result<Vec<OwedRefund>, ApiError> {
        sqlx::query(
            "UPDATE bookings_demo.payments
                SET status = 'REFUND_PENDING', refund_due_at = now(), failure_code = 'outcome_lost'
              WHERE status = 'PROCESSING' AND created_at <= now() - make_interval(secs => $1)",
        )
        .bind(abandoned_after.as_secs_f64())
        .execute(&self.pool)
        .await?;
        let rows: Vec<(Uuid, Uuid, Option<String>, i64)> = sqlx::query_as(
            "UPDATE bookings_demo.payments SET refund_due_at = now() + make_interval(secs => $2)
              WHERE id IN (SELECT id FROM bookings_demo.payments
                            WHERE status = 'REFUND_PENDING' AND refund_due_at <= now()
                            ORDER BY refund_due_at LIMIT $1 FOR UPDATE SKIP LOCKED)
              RETURNING id, booking_id, provider_ref, amount_cents",
        )
        .bind(i64::from(limit))
        .bind(lease.as_secs_f64())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(payment, booking, reference, cents)| OwedRefund {
                payment,
                refund: Refund { booking, reference, amount: Cents(cents) },
            })
            .collect())
    }

    /// The provider confirmed the refund.
    async fn refund_done(&self, payment: Uuid) -> Result<(), ApiError> {
        sqlx::query(
            "UPDATE bookings_demo.payments SET status = 'REFUNDED', refunded_at = now(), refund_error = NULL
             WHERE id = $1 AND status = 'REFUND_PENDING'",
        )
        .bind(payment)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The provider refused or could not be reached: try again after a
    /// back-off that doubles with each attempt (capped at an hour).
    async fn refund_failed(&self, payment: Uuid, error: &str) -> Result<(), ApiError> {
        sqlx::query(
            "UPDATE bookings_demo.payments
                SET refund_attempts = refund_attempts + 1, refund_error = $2,
                    refund_due_at = now() + make_interval(secs => least(3600, 5 * power(2, least(refund_attempts, 10))))
              WHERE id = $1 AND status = 'REFUND_PENDING'",
        )
        .bind(payment)
        .bind(error)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
