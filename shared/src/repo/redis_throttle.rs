//! Abuse limits in Redis: login attempts and per-client request rates. Every
//! counter is one key that expires with its window, so a limit ends by
//! itself, and is counted *before* the work it guards: parallel attempts all
//! see each other's increments, so none slips past the limit.
//!
//! Keys that one script touches together share a hash tag (`{email}`), so
//! this works on ElastiCache in cluster mode.

use std::{sync::LazyLock, time::Duration};

use async_trait::async_trait;
use redis::Script;

use super::{redis_conn::RedisConn, DeclineCounter, DeclineLimit, LoginThrottle, RateLimiter};
use crate::{config::Config, domain::user::Email, error::ApiError};

/// INCR, EXPIRE on the first count, and the count with the key's TTL.
/// Each script is made (and its SHA computed) once per process; EVALSHA
/// then sends only the hash.
static COUNT: LazyLock<Script> = LazyLock::new(|| Script::new(COUNT_SCRIPT));
const COUNT_SCRIPT: &str = "local n = redis.call('INCR', KEYS[1])
     if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
     return {n, redis.call('TTL', KEYS[1])}";

/// Counts an attempt for the email from one address (KEYS[1]) and, only if
/// that address is not locked already, from all addresses (KEYS[2]);
/// returns the seconds to wait when either is over its limit (ARGV[2],
/// ARGV[3]), else 0. Attempts refused at the address's own lock never
/// reach the password check and so never count toward the account-wide
/// ceiling: a guesser hammering from one address locks only that address,
/// never the owner everywhere.
static LOGIN_ATTEMPT: LazyLock<Script> = LazyLock::new(|| Script::new(LOGIN_ATTEMPT_SCRIPT));
const LOGIN_ATTEMPT_SCRIPT: &str = "local function count(key)
       local n = redis.call('INCR', key)
       if n == 1 then redis.call('EXPIRE', key, ARGV[1]) end
       return n
     end
     if count(KEYS[1]) > tonumber(ARGV[2]) then return math.max(redis.call('TTL', KEYS[1]), 1) end
     if count(KEYS[2]) > tonumber(ARGV[3]) then return math.max(redis.call('TTL', KEYS[2]), 1) end
     return 0";

/// The attempt succeeded: this address starts afresh, and the account-wide
/// count no longer holds it (DECR only where the key still lives, so an
/// expired key is not recreated without a TTL).
static LOGIN_SUCCEEDED: LazyLock<Script> = LazyLock::new(|| Script::new(LOGIN_SUCCEEDED_SCRIPT));
const LOGIN_SUCCEEDED_SCRIPT: &str = "redis.call('DEL', KEYS[1])
     if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('DECR', KEYS[2]) end
     return 0";

/// Login limits, per account and address, per account, and per address.
pub struct RedisLoginThrottle {
    redis: RedisConn,
    per_pair: u32,
    per_account: u32,
    per_address: u32,
    window: Duration,
}

impl RedisLoginThrottle {
    pub fn new(redis: RedisConn, config: &Config) -> Self {
        RedisLoginThrottle {
            redis,
            per_pair: config.login_max_failures,
            per_account: config.login_account_max_failures,
            per_address: config.login_ip_max_attempts,
            window: config.login_lockout_window,
        }
    }

    fn keys(email: &Email, client: &str) -> [String; 2] {
        [format!("login:{{{email}}}:from:{client}"), format!("login:{{{email}}}:all")]
    }
}

#[async_trait]
impl LoginThrottle for RedisLoginThrottle {
    async fn attempt(&self, email: &Email, client: &str) -> Result<Option<Duration>, ApiError> {
        if let Some(wait) = count(&self.redis, &format!("login-from:{client}"), self.per_address, self.window).await? {
            return Ok(Some(wait));
        }
        let mut redis = self.redis.clone();
        let [pair, all] = Self::keys(email, client);
        let wait: u64 = LOGIN_ATTEMPT
            .key(pair)
            .key(all)
            .arg(self.window.as_secs().max(1))
            .arg(self.per_pair)
            .arg(self.per_account)
            .invoke_async(&mut redis)
            .await?;
        Ok((wait > 0).then(|| Duration::from_secs(wait)))
    }

    async fn succeeded(&self, email: &Email, client: &str) -> Result<(), ApiError> {
        let mut redis = self.redis.clone();
        let [pair, all] = Self::keys(email, client);
        let _: i64 = LOGIN_SUCCEEDED.key(pair).key(all).invoke_async(&mut redis).await?;
        Ok(())
    }
}

/// Counts one use of `key` in a fixed window; the wait when over `limit`.
async fn count(redis: &RedisConn, key: &str, limit: u32, window: Duration) -> Result<Option<Duration>, ApiError> {
    let mut redis = redis.clone();
    let (n, ttl): (u64, i64) = COUNT.key(key).arg(window.as_secs().max(1)).invoke_async(&mut redis).await?;
    Ok((n > u64::from(limit)).then(|| Duration::from_secs(ttl.max(1) as u64)))
}

/// Requests per client address per minute, one counter per route.
pub struct RedisRateLimiter {
    redis: RedisConn,
}

impl RedisRateLimiter {
    pub fn new(redis: RedisConn) -> Self {
        RedisRateLimiter { redis }
    }
}

const RATE_WINDOW: Duration = Duration::from_secs(60);

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn check(&self, route: &str, client: &str, per_minute: u32) -> Result<(), ApiError> {
        if per_minute == 0 {
            return Ok(());
        }
        match count(&self.redis, &format!("rate:{route}:{client}"), per_minute, RATE_WINDOW).await? {
            Some(retry_after) => Err(ApiError::TooManyRequests { retry_after }),
            None => Ok(()),
        }
    }
}

/// The count under a key and its TTL, without counting.
static PEEK: LazyLock<Script> = LazyLock::new(|| Script::new(PEEK_SCRIPT));
const PEEK_SCRIPT: &str = "return {tonumber(redis.call('GET', KEYS[1]) or '0'), redis.call('TTL', KEYS[1])}";

/// Declined charges, one counter per budget. Each key is read and counted
/// on its own (one key a call), so budgets of different fans and addresses
/// may live on different cluster slots.
pub struct RedisDeclineCounter {
    redis: RedisConn,
}

impl RedisDeclineCounter {
    pub fn new(redis: RedisConn) -> Self {
        RedisDeclineCounter { redis }
    }
}

#[async_trait]
impl DeclineCounter for RedisDeclineCounter {
    async fn wait(&self, limits: &[DeclineLimit]) -> Result<Option<Duration>, ApiError> {
        let mut wait = None;
        for limit in limits {
            let mut redis = self.redis.clone();
            let (n, ttl): (u64, i64) = PEEK.key(&limit.key).invoke_async(&mut redis).await?;
            if n >= u64::from(limit.max) {
                let this = Duration::from_secs(ttl.max(1) as u64);
                wait = Some(wait.map_or(this, |w: Duration| w.max(this)));
            }
        }
        Ok(wait)
    }

    async fn declined(&self, limits: &[DeclineLimit]) -> Result<(), ApiError> {
        for limit in limits {
            count(&self.redis, &limit.key, limit.max, limit.window).await?;
        }
        Ok(())
    }
}
