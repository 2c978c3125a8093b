//! Storage boundary. Domain code talks to these small traits; the PostgreSQL,
//! Redis and Mongo versions live beside them, and unit tests use in-memory
//! fakes. Row ↔ domain conversion stays inside each adapter.

use std::time::Duration;

use async_trait::async_trait;

use crate::{
    domain::user::{Email, NewUser, User},
    error::ApiError,
};

pub mod pg_users;
pub mod redis_throttle;

/// A stored user with the hash needed to check a password.
#[derive(Debug, Clone)]
pub struct UserCredentials {
    pub user: User,
    pub password_hash: String,
}

#[async_trait]
pub trait UserStore: Send + Sync {
    /// Inserts the user; an email that is already registered is a 409.
    async fn insert(&self, user: &NewUser, password_hash: &str) -> Result<User, ApiError>;
    async fn find_by_email(&self, email: &Email) -> Result<Option<UserCredentials>, ApiError>;
}

/// Counts failed logins per email in a sliding-from-first-failure window.
#[async_trait]
pub trait LoginThrottle: Send + Sync {
    /// How long the account stays locked, if it is locked now.
    async fn locked_for(&self, email: &Email) -> Result<Option<Duration>, ApiError>;
    async fn record_failure(&self, email: &Email) -> Result<(), ApiError>;
    async fn clear(&self, email: &Email) -> Result<(), ApiError>;
}
