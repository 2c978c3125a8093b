//! Failed-login counters in Redis: one key per email that expires with the
//! lockout window, so a lockout ends by itself.

use std::time::Duration;

use async_trait::async_trait;
use redis::{AsyncCommands, Script};

use super::redis_conn::RedisConn;

use super::LoginThrottle;
use crate::{domain::user::Email, error::ApiError};

pub struct RedisLoginThrottle {
    redis: RedisConn,
    max_failures: u32,
    window: Duration,
    record: Script,
}

impl RedisLoginThrottle {
    pub fn new(redis: RedisConn, max_failures: u32, window: Duration) -> Self {
        // INCR and the first EXPIRE in one step: a crash between the two
        // would otherwise leave a counter that never expires.
        let record = Script::new(
            "local n = redis.call('INCR', KEYS[1])
             if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
             return n",
        );
        RedisLoginThrottle { redis, max_failures, window, record }
    }

    fn key(email: &Email) -> String {
        format!("login:failures:{email}")
    }
}

#[async_trait]
impl LoginThrottle for RedisLoginThrottle {
    async fn locked_for(&self, email: &Email) -> Result<Option<Duration>, ApiError> {
        let mut redis = self.redis.clone();
        let key = Self::key(email);
        let (failures, ttl): (Option<u32>, i64) = redis::pipe().get(&key).ttl(&key).query_async(&mut redis).await?;
        match failures {
            Some(n) if n >= self.max_failures => Ok(Some(Duration::from_secs(ttl.max(1) as u64))),
            _ => Ok(None),
        }
    }

    async fn record_failure(&self, email: &Email) -> Result<(), ApiError> {
        let mut redis = self.redis.clone();
        let _: u32 =
            self.record.key(Self::key(email)).arg(self.window.as_secs().max(1)).invoke_async(&mut redis).await?;
        Ok(())
    }

    async fn clear(&self, email: &Email) -> Result<(), ApiError> {
        let mut redis = self.redis.clone();
        let _: () = redis.del(Self::key(email)).await?;
        Ok(())
    }
}
