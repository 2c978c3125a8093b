//! Idempotency-Key storage: the first response for (user, key) is kept and
//! replayed; a key whose first request died is taken over after its lease.

use std::time::Duration;

use uuid::Uuid;

use async_trait::async_trait;

use super::PgBookings;
use crate::{
    error::ApiError,
    repo::booking_ports::{IdempotencyClaim, IdempotencyStore},
};

#[async_trait]
impl IdempotencyStore for PgBookings {
    /// Claims an Idempotency-Key for this user and request: a new key, or
    /// one whose earlier claim for the same request has gone unanswered for
    /// longer than `lease` (that request died; this one takes over).
    async fn claim_key(
        &self,
        user: Uuid,
        key: &str,
        request_hash: &str,
        lease: Duration,
    ) -> Result<IdempotencyClaim, ApiError> {
        let claimed = sqlx::query(
            "INSERT INTO bookings_demo.idempotency_keys AS k (user_id, key, request_hash) VALUES ($1, $2, $3)
             ON CONFLICT (user_id, key) DO UPDATE SET claimed_at = now()
              WHERE k.status_code IS NULL AND k.request_hash = EXCLUDED.request_hash
                AND k.claimed_at <= now() - make_interval(secs => $4)",
        )
        .bind(user)
        .bind(key)
        .bind(request_hash)
        .bind(lease.as_secs_f64())
        .execute(&self.pool)
        .await?
        .rows_affected();
        if claimed == 1 {
            return Ok(IdempotencyClaim::Claimed);
        }
        let (hash, status, body): (String, Option<i32>, Option<Vec<u8>>) = sqlx::query_as(
            "SELECT request_hash, status_code, response FROM bookings_demo.idempotency_keys WHERE user_id = $1 AND key = $2",
        )
        .bind(user)
        .bind(key)
        .fetch_one(&self.pool)
        .await?;
        Ok(match (hash == request_hash, status, body) {
            (false, _, _) => IdempotencyClaim::Mismatch,
            (true, Some(status), Some(body)) => IdempotencyClaim::Replay { status: status as u16, body },
            _ => IdempotencyClaim::InProgress,
        })
    }

    async fn complete_key(&self, user: Uuid, key: &str, status: u16, body: &[u8]) -> Result<(), ApiError> {
        sqlx::query(
            "UPDATE bookings_demo.idempotency_keys SET status_code = $3, response = $4 WHERE user_id = $1 AND key = $2",
        )
        .bind(user)
        .bind(key)
        .bind(i32::from(status))
        .bind(body)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets a claim whose request failed in a way worth retrying (5xx).
    async fn release_key(&self, user: Uuid, key: &str) -> Result<(), ApiError> {
        sqlx::query(
            "DELETE FROM bookings_demo.idempotency_keys WHERE user_id = $1 AND key = $2 AND status_code IS NULL",
        )
        .bind(user)
        .bind(key)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn forget_keys(&self, ttl: Duration, limit: u32) -> Result<u64, ApiError> {
        let forgotten = sqlx::query(
            "DELETE FROM bookings_demo.idempotency_keys WHERE (user_id, key) IN (
                 SELECT user_id, key FROM bookings_demo.idempotency_keys
                  WHERE created_at < now() - make_interval(secs => $1) LIMIT $2 FOR UPDATE SKIP LOCKED)",
        )
        .bind(ttl.as_secs_f64())
        .bind(i64::from(limit))
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(forgotten)
    }
}
