//! Door staff per event in PostgreSQL (`bookings_demo.event_staff`).

use async_trait::async_trait;
use sqlx::PgPool;
use uuid::Uuid;

use super::EventStaff;
use crate::{domain::event::EventId, error::ApiError};

pub struct PgEventStaff {
    pool: PgPool,
}

impl PgEventStaff {
    pub fn new(pool: PgPool) -> Self {
        PgEventStaff { pool }
    }
}

#[async_trait]
impl EventStaff for PgEventStaff {
    async fn assign(&self, event: &EventId, user: Uuid, by: Uuid) -> Result<bool, ApiError> {
        let added = sqlx::query(
            "INSERT INTO bookings_demo.event_staff (event_id, user_id, assigned_by) VALUES ($1, $2, $3)
             ON CONFLICT (event_id, user_id) DO NOTHING",
        )
        .bind(event.as_ref())
        .bind(user)
        .bind(by)
        .execute(&self.pool)
        .await?;
        Ok(added.rows_affected() == 1)
    }

    async fn remove(&self, event: &EventId, user: Uuid) -> Result<bool, ApiError> {
        let removed = sqlx::query("DELETE FROM bookings_demo.event_staff WHERE event_id = $1 AND user_id = $2")
            .bind(event.as_ref())
            .bind(user)
            .execute(&self.pool)
            .await?;
        Ok(removed.rows_affected() == 1)
    }

    async fn is_assigned(&self, event: &EventId, user: Uuid) -> Result<bool, ApiError> {
        let (assigned,): (bool,) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM bookings_demo.event_staff WHERE event_id = $1 AND user_id = $2)",
        )
        .bind(event.as_ref())
        .bind(user)
        .fetch_one(&self.pool)
        .await?;
        Ok(assigned)
    }
}
