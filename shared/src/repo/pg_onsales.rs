//! On-sale settings in PostgreSQL (`bookings_demo.onsales`).

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::OnSaleStore;
use crate::{
    domain::{event::EventId, onsale::OnSale},
    error::ApiError,
};

pub struct PgOnSales {
    pool: PgPool,
}

impl PgOnSales {
    pub fn new(pool: PgPool) -> Self {
        PgOnSales { pool }
    }
}

#[derive(sqlx::FromRow)]
struct OnSaleRow {
    event_id: String,
    opens_at: DateTime<Utc>,
    queue_enabled: bool,
    admission_per_minute: i32,
    pass_ttl_seconds: i32,
    max_seats_per_user: Option<i32>,
}

impl TryFrom<OnSaleRow> for OnSale {
    type Error = ApiError;
    fn try_from(row: OnSaleRow) -> Result<Self, ApiError> {
        // The table's CHECKs keep these in range; a row that is not is corrupt.
        let corrupt = |what: &str| ApiError::Internal(anyhow::anyhow!("onsales row {}: bad {what}", row.event_id));
        Ok(OnSale {
            event_id: EventId::parse(&row.event_id).map_err(|_| corrupt("event_id"))?,
            opens_at: row.opens_at,
            queue_enabled: row.queue_enabled,
            admission_per_minute: u32::try_from(row.admission_per_minute).map_err(|_| corrupt("rate"))?,
            pass_ttl: Duration::from_secs(u64::try_from(row.pass_ttl_seconds).map_err(|_| corrupt("pass ttl"))?),
            max_seats_per_user: row.max_seats_per_user.map(|n| n.max(0) as u32),
        })
    }
}

#[async_trait]
impl OnSaleStore for PgOnSales {
    async fn put(&self, sale: &OnSale, by: Uuid) -> Result<(), ApiError> {
        sqlx::query(
            "INSERT INTO bookings_demo.onsales
                 (event_id, opens_at, queue_enabled, admission_per_minute, pass_ttl_seconds, max_seats_per_user, updated_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (event_id) DO UPDATE SET
                 opens_at = EXCLUDED.opens_at, queue_enabled = EXCLUDED.queue_enabled,
                 admission_per_minute = EXCLUDED.admission_per_minute, pass_ttl_seconds = EXCLUDED.pass_ttl_seconds,
                 max_seats_per_user = EXCLUDED.max_seats_per_user, updated_by = EXCLUDED.updated_by, updated_at = now()",
        )
        .bind(sale.event_id.as_ref())
        .bind(sale.opens_at)
        .bind(sale.queue_enabled)
        .bind(sale.admission_per_minute as i32)
        .bind(sale.pass_ttl.as_secs() as i32)
        .bind(sale.max_seats_per_user.map(|n| n as i32))
        .bind(by)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn get(&self, event: &EventId) -> Result<Option<OnSale>, ApiError> {
        let row: Option<OnSaleRow> = sqlx::query_as(
            "SELECT event_id, opens_at, queue_enabled, admission_per_minute, pass_ttl_seconds, max_seats_per_user
               FROM bookings_demo.onsales WHERE event_id = $1",
        )
        .bind(event.as_ref())
        .fetch_optional(&self.pool)
        .await?;
        row.map(OnSale::try_from).transpose()
    }
}
