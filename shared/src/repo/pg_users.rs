//! Users in PostgreSQL (schema `users_demo`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::{is_unique_violation, UserCredentials, UserStore};
use crate::{
    domain::user::{Email, NewUser, Role, Tier, User},
    error::ApiError,
};

pub struct PgUsers {
    pool: PgPool,
}

impl PgUsers {
    pub fn new(pool: PgPool) -> Self {
        PgUsers { pool }
    }
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: Uuid,
    email: String,
    name: String,
    phone: Option<String>,
    tier: Tier,
    role: Role,
    created_at: DateTime<Utc>,
    password_hash: String,
    email_verified: bool,
}

impl From<UserRow> for UserCredentials {
    fn from(row: UserRow) -> Self {
        UserCredentials {
            user: User {
                id: row.id,
                email: row.email,
                name: row.name,
                phone: row.phone,
                tier: row.tier,
                role: row.role,
                created_at: row.created_at,
            },
            password_hash: row.password_hash,
            email_verified: row.email_verified,
        }
    }
}

#[async_trait]
impl UserStore for PgUsers {
    async fn insert(&self, user: &NewUser, password_hash: &str) -> Result<User, ApiError> {
        let row = sqlx::query_as::<_, UserRow>(
            "INSERT INTO users_demo.users (id, email, name, phone, password_hash, role, tier)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             RETURNING id, email, name, phone, tier, role, created_at, password_hash,
                       email_verified_at IS NOT NULL AS email_verified",
        )
        .bind(Uuid::now_v7())
        .bind(user.email.as_ref())
        .bind(&user.name)
        .bind(&user.phone)
        .bind(password_hash)
        .bind(user.role)
        .bind(user.tier)
        .fetch_one(&self.pool)
        .await
        .map_err(|err| {
            if is_unique_violation(&err) {
                ApiError::conflict("An account with this email already exists")
            } else {
                err.into()
            }
        })?;
        Ok(UserCredentials::from(row).user)
    }

    async fn find_by_email(&self, email: &Email) -> Result<Option<UserCredentials>, ApiError> {
        let row = sqlx::query_as::<_, UserRow>(
            "SELECT id, email, name, phone, tier, role, created_at, password_hash,
                    email_verified_at IS NOT NULL AS email_verified
             FROM users_demo.users WHERE email = $1",
        )
        .bind(email.as_ref())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(UserCredentials::from))
    }

    async fn set_role(&self, user: Uuid, role: Role) -> Result<Option<User>, ApiError> {
        let row = sqlx::query_as::<_, UserRow>(
            "UPDATE users_demo.users SET role = $2 WHERE id = $1
             RETURNING id, email, name, phone, tier, role, created_at, password_hash,
                       email_verified_at IS NOT NULL AS email_verified",
        )
        .bind(user)
        .bind(role)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| UserCredentials::from(r).user))
    }

    async fn find_by_id(&self, user: Uuid) -> Result<Option<UserCredentials>, ApiError> {
        let row = sqlx::query_as::<_, UserRow>(
            "SELECT id, email, name, phone, tier, role, created_at, password_hash,
                    email_verified_at IS NOT NULL AS email_verified
             FROM users_demo.users WHERE id = $1",
        )
        .bind(user)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(UserCredentials::from))
    }

    async fn mark_verified(&self, user: Uuid, email: &str) -> Result<bool, ApiError> {
        // The first proof's date is kept: a second click changes nothing.
        let marked = sqlx::query(
            "UPDATE users_demo.users SET email_verified_at = COALESCE(email_verified_at, now())
              WHERE id = $1 AND email = $2",
        )
        .bind(user)
        .bind(email)
        .execute(&self.pool)
        .await?;
        Ok(marked.rows_affected() == 1)
    }

    async fn replace_password(&self, user: Uuid, old_hash: &str, new_hash: &str) -> Result<bool, ApiError> {
        // Compare-and-set: concurrent confirms of one link queue on the row
        // lock, and each after the first re-reads a hash that no longer
        // matches (READ COMMITTED re-checks the WHERE on the new version).
        let replaced = sqlx::query(
            "UPDATE users_demo.users
                SET password_hash = $3, updated_at = now(),
                    email_verified_at = COALESCE(email_verified_at, now())
              WHERE id = $1 AND password_hash = $2",
        )
        .bind(user)
        .bind(old_hash)
        .bind(new_hash)
        .execute(&self.pool)
        .await?;
        Ok(replaced.rows_affected() == 1)
    }
}
