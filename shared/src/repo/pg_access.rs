//! What each privileged call checks of an account (its role, its token
//! version), in PostgreSQL (`users_demo.users`).

use async_trait::async_trait;
use sqlx::PgPool;
use uuid::Uuid;

use super::{AccessStore, AccountAccess};
use crate::{domain::user::Role, error::ApiError};

pub struct PgAccess {
    pool: PgPool,
}

impl PgAccess {
    pub fn new(pool: PgPool) -> Self {
        PgAccess { pool }
    }
}

#[async_trait]
impl AccessStore for PgAccess {
    async fn access(&self, user: Uuid) -> Result<Option<AccountAccess>, ApiError> {
        let row: Option<(Role, i64)> = sqlx::query_as("SELECT role, token_version FROM users_demo.users WHERE id = $1")
            .bind(user)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|(role, token_version)| AccountAccess { role, token_version }))
    }

    async fn revoke_tokens(&self, user: Uuid) -> Result<Option<i64>, ApiError> {
        let row: Option<(i64,)> = sqlx::query_as(
            "UPDATE users_demo.users SET token_version = token_version + 1, updated_at = now()
             WHERE id = $1 RETURNING token_version",
        )
        .bind(user)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(version,)| version))
    }
}
