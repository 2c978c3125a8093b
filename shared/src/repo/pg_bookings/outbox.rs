//! The transactional outbox and the audit log: written in the transaction of
//! the change they record; the sweeper relays what no consumer has applied.

use std::time::Duration;

use serde_json::Value;
use sqlx::{Postgres, Row, Transaction};
use uuid::Uuid;

use async_trait::async_trait;

use super::PgBookings;
use crate::{
    domain::booking::BookingStatus,
    error::ApiError,
    messages::BookingMessage,
    repo::booking_ports::{OutboxRow, OutboxStore},
};

/// How often the sweeper publishes a message again that no consumer applies
/// (a consumer that dead-letters it every time) before leaving it be. With
/// the 60 s default wait that is ten minutes, a whole hold. The partial
/// index `outbox_to_relay` (migrations) repeats this number.
const MAX_RELAY_ATTEMPTS: i32 = 10;

pub(crate) async fn enqueue(
    tx: &mut Transaction<'_, Postgres>,
    topic: &str,
    message: &BookingMessage,
) -> Result<OutboxRow, ApiError> {
    let row = OutboxRow::announcing(topic, message)?;
    sqlx::query("INSERT INTO bookings_demo.outbox (id, topic, message_key, payload) VALUES ($1, $2, $3, $4)")
        .bind(row.id)
        .bind(&row.topic)
        .bind(&row.key)
        .bind(&row.payload)
        .execute(&mut **tx)
        .await?;
    Ok(row)
}

pub(super) async fn audit(
    tx: &mut Transaction<'_, Postgres>,
    booking: Uuid,
    actor: &str,
    action: &str,
    from: Option<BookingStatus>,
    to: BookingStatus,
    detail: Option<Value>,
) -> Result<(), ApiError> {
    sqlx::query(
        "INSERT INTO bookings_demo.audit_log (booking_id, actor, action, from_status, to_status, detail)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(booking)
    .bind(actor)
    .bind(action)
    .bind(from.map(BookingStatus::as_str))
    .bind(to.as_str())
    .bind(detail)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[async_trait]
impl OutboxStore for PgBookings {
    /// Outbox rows no consumer has applied yet, oldest first, that have gone
    /// `quiet_for` without being sent again (or since they were written) and
    /// have been sent again fewer than `MAX_RELAY_ATTEMPTS` times.
    async fn undelivered(&self, quiet_for: Duration, limit: u32) -> Result<Vec<OutboxRow>, ApiError> {
        // The limit is a literal so the planner can use the partial index
        // `outbox_to_relay`, whose predicate is the same.
        let rows = sqlx::query(&format!(
            "SELECT id, topic, message_key, payload FROM bookings_demo.outbox
             WHERE delivered_at IS NULL AND relay_attempts < {MAX_RELAY_ATTEMPTS}
               AND coalesce(relayed_at, created_at) <= now() - make_interval(secs => $1)
             ORDER BY seq LIMIT $2"
        ))
        .bind(quiet_for.as_secs_f64())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(OutboxRow {
                    id: row.try_get("id")?,
                    topic: row.try_get("topic")?,
                    key: row.try_get("message_key")?,
                    payload: row.try_get("payload")?,
                })
            })
            .collect()
    }

    /// Records the sweeper's attempt, so the rows wait `quiet_for` again.
    /// Returns the rows this attempt was the last for (topic and id), which
    /// now need a person.
    async fn mark_relayed(&self, ids: &[Uuid]) -> Result<Vec<(String, Uuid)>, ApiError> {
        Ok(sqlx::query_as(&format!(
            "UPDATE bookings_demo.outbox SET relayed_at = now(), relay_attempts = relay_attempts + 1
             WHERE id = ANY($1) RETURNING topic, id, relay_attempts >= {MAX_RELAY_ATTEMPTS} AS given_up"
        ))
        .persistent(false)
        .bind(ids)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .filter_map(|(topic, id, given_up): (String, Uuid, bool)| given_up.then_some((topic, id)))
        .collect())
    }
}
