//! Live seat status in Redis: one hash per event, `seats:{<eventId>}`, field
//! = seat label, value `H|<bookingId>|<expiresAtMs>` (held) or
//! `B|<bookingId>` (booked). Available seats have no field.
//!
//! One hash per event makes the seat map one HGETALL, and the `{eventId}`
//! hash tag keeps all of an event's keys on one ElastiCache cluster slot so
//! the hold script can touch them atomically. A hold past its expiry reads
//! as available everywhere (lazy expiry), so the map never waits for the
//! expirer.

use std::{collections::HashMap, sync::LazyLock};

use async_trait::async_trait;
use redis::Script;

use super::redis_conn::RedisConn;

use super::{LiveSeats, SeatBoard, SeatHolds};
use crate::{
    domain::event::{EventId, SeatStatus},
    error::ApiError,
};

pub fn board_key(event: &EventId) -> String {
    format!("seats:{{{event}}}")
}

/// Status of one stored value at `now_ms`; `None` means available.
pub fn parse_status(value: &str, now_ms: i64) -> Option<SeatStatus> {
    let mut parts = value.split('|');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("B"), Some(_), _) => Some(SeatStatus::Booked),
        (Some("H"), Some(_), Some(expires)) => {
            let expires: i64 = expires.parse().ok()?;
            (expires > now_ms).then_some(SeatStatus::Held)
        }
        _ => None,
    }
}

fn to_live(raw: HashMap<String, String>, now_ms: i64) -> LiveSeats {
    raw.into_iter().filter_map(|(label, value)| parse_status(&value, now_ms).map(|s| (label, s))).collect()
}

/// Holds every requested seat for one booking, or none. A seat is free when
/// it has no field, or holds an expired hold; a seat already held by this
/// same booking counts as free, so a retried hold is harmless. Returns the
/// labels that were taken by someone else (empty on success).
const HOLD_SCRIPT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local taken = {}
for i = 3, #ARGV do
  local v = redis.call('HGET', KEYS[1], ARGV[i])
  if v then
    local kind, owner, expires = string.match(v, '^(%a)|([^|]+)|?(%d*)$')
    if owner ~= ARGV[1] and (kind == 'B' or (tonumber(expires) or 0) > now) then
      taken[#taken + 1] = ARGV[i]
    end
  end
end
if #taken > 0 then return taken end
for i = 3, #ARGV do
  local v = redis.call('HGET', KEYS[1], ARGV[i])
  if not (v and string.sub(v, 1, 2) == 'B|') then
    redis.call('HSET', KEYS[1], ARGV[i], 'H|' .. ARGV[1] .. '|' .. ARGV[2])
  end
end
return taken
";

/// Removes this booking's holds or booked markers, never anyone else's.
const RELEASE_SCRIPT: &str = r"
local released = 0
for i = 2, #ARGV do
  local v = redis.call('HGET', KEYS[1], ARGV[i])
  if v then
    local owner = string.match(v, '^%a|([^|]+)')
    if owner == ARGV[1] then
      redis.call('HDEL', KEYS[1], ARGV[i])
      released = released + 1
    end
  end
end
return released
";

/// Turns this booking's holds into permanent booked markers. A seat whose
/// hold vanished (Redis flushed) is marked too; PostgreSQL already decided
/// the booking owns it. Returns the labels another booking owns.
const CONFIRM_SCRIPT: &str = r"
local conflicts = {}
for i = 2, #ARGV do
  local v = redis.call('HGET', KEYS[1], ARGV[i])
  local owner = v and string.match(v, '^%a|([^|]+)')
  if owner and owner ~= ARGV[1] and string.sub(v, 1, 2) == 'B|' then
    conflicts[#conflicts + 1] = ARGV[i]
  else
    redis.call('HSET', KEYS[1], ARGV[i], 'B|' .. ARGV[1])
  end
end
return conflicts
";

// Scripts are hashed once per instance; calls use EVALSHA and fall back to
// EVAL (loading the script) only when Redis does not know it yet.
static HOLD: LazyLock<Script> = LazyLock::new(|| Script::new(HOLD_SCRIPT));
static RELEASE: LazyLock<Script> = LazyLock::new(|| Script::new(RELEASE_SCRIPT));
static CONFIRM: LazyLock<Script> = LazyLock::new(|| Script::new(CONFIRM_SCRIPT));

#[derive(Clone)]
pub struct RedisSeatBoard {
    redis: RedisConn,
}

impl RedisSeatBoard {
    pub fn new(redis: RedisConn) -> Self {
        RedisSeatBoard { redis }
    }

    async fn run(&self, script: &Script, event: &EventId, args: &[&str]) -> Result<redis::Value, ApiError> {
        let mut redis = self.redis.clone();
        let mut invocation = script.key(board_key(event));
        for arg in args {
            invocation.arg(*arg);
        }
        Ok(invocation.invoke_async(&mut redis).await?)
    }

    pub fn connection(&self) -> RedisConn {
        self.redis.clone()
    }
}

#[async_trait]
impl SeatBoard for RedisSeatBoard {
    async fn live(&self, event: &EventId) -> Result<LiveSeats, ApiError> {
        let mut redis = self.redis.clone();
        let raw: HashMap<String, String> = redis::cmd("HGETALL").arg(board_key(event)).query_async(&mut redis).await?;
        Ok(to_live(raw, chrono::Utc::now().timestamp_millis()))
    }

    async fn live_many(&self, events: &[EventId]) -> Result<Vec<LiveSeats>, ApiError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        // Concurrent reads rather than one pipeline: each event is its own
        // hash slot, and a cluster refuses pipelines that cross slots. The
        // multiplexed connection still sends them in one write.
        let reads = events.iter().map(|event| {
            let mut redis = self.redis.clone();
            async move { redis::cmd("HGETALL").arg(board_key(event)).query_async(&mut redis).await }
        });
        let raw: Vec<HashMap<String, String>> = futures::future::try_join_all(reads).await?;
        let now = chrono::Utc::now().timestamp_millis();
        Ok(raw.into_iter().map(|r| to_live(r, now)).collect())
    }
}

fn labels_of(value: redis::Value) -> Result<Vec<String>, ApiError> {
    redis::from_redis_value(&value).map_err(ApiError::from)
}

#[async_trait]
impl SeatHolds for RedisSeatBoard {
    async fn hold(
        &self,
        event: &EventId,
        booking: &str,
        labels: &[String],
        expires_at_ms: i64,
    ) -> Result<Vec<String>, ApiError> {
        let expires = expires_at_ms.to_string();
        let mut args = vec![booking, expires.as_str()];
        args.extend(labels.iter().map(String::as_str));
        labels_of(self.run(&HOLD, event, &args).await?)
    }

    async fn release(&self, event: &EventId, booking: &str, labels: &[String]) -> Result<u32, ApiError> {
        let mut args = vec![booking];
        args.extend(labels.iter().map(String::as_str));
        Ok(redis::from_redis_value(&self.run(&RELEASE, event, &args).await?)?)
    }

    async fn confirm(&self, event: &EventId, booking: &str, labels: &[String]) -> Result<Vec<String>, ApiError> {
        let mut args = vec![booking];
        args.extend(labels.iter().map(String::as_str));
        labels_of(self.run(&CONFIRM, event, &args).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_read_as_available_once_expired() {
        assert_eq!(parse_status("H|b1|2000", 1000), Some(SeatStatus::Held));
        assert_eq!(parse_status("H|b1|2000", 2000), None);
        assert_eq!(parse_status("B|b1", i64::MAX), Some(SeatStatus::Booked));
        assert_eq!(parse_status("garbage", 0), None);
    }

    #[test]
    fn keys_carry_the_event_hash_tag() {
        assert_eq!(board_key(&EventId::parse("abc").unwrap()), "seats:{abc}");
    }
}
