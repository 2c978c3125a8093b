//! Which messages each consumer has applied (`processed_messages`): the
//! consumers' guard against redelivery, and what marks an outbox row
//! delivered.

use uuid::Uuid;

use async_trait::async_trait;

use super::PgBookings;
use crate::{error::ApiError, repo::booking_ports::ProcessedLog};

#[async_trait]
impl ProcessedLog for PgBookings {
    /// Which of `messages` this consumer has already processed.
    async fn processed_among(&self, consumer: &str, messages: &[Uuid]) -> Result<Vec<Uuid>, ApiError> {
        Ok(sqlx::query_scalar(
            "SELECT message_id FROM bookings_demo.processed_messages WHERE consumer = $1 AND message_id = ANY($2)",
        )
        .persistent(false)
        .bind(consumer)
        .bind(messages)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Marks `messages` processed by `consumer` and, for those that came
    /// from the outbox, delivered (one statement: both or neither).
    async fn mark_processed(&self, consumer: &str, messages: &[Uuid]) -> Result<(), ApiError> {
        sqlx::query(
            "WITH delivered AS (
                UPDATE bookings_demo.outbox SET delivered_at = now() WHERE id = ANY($2) AND delivered_at IS NULL
             )
             INSERT INTO bookings_demo.processed_messages (consumer, message_id)
             SELECT $1, * FROM UNNEST($2::uuid[]) ON CONFLICT DO NOTHING",
        )
        .persistent(false)
        .bind(consumer)
        .bind(messages)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
