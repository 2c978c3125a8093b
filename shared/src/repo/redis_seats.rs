//! Live seat status in Redis: one hash per event, `seats:{<eventId>}`, field
//! = seat label, value `H|<bookingId>|<expiresAtMs>` (held) or
//! `B|<bookingId>` (booked). Available seats have no field.
//!
//! One hash per event makes the seat map one HGETALL, and the `{eventId}`
//! hash tag keeps all of an event's keys on one ElastiCache cluster slot so
//! the hold script can touch them atomically. A hold past its expiry reads
//! as available everywhere (lazy expiry), so the map never waits for the
//! expirer.

use std::collections::HashMap;

use async_trait::async_trait;
use redis::aio::ConnectionManager;

use super::{LiveSeats, SeatBoard};
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

#[derive(Clone)]
pub struct RedisSeatBoard {
    redis: ConnectionManager,
}

impl RedisSeatBoard {
    pub fn new(redis: ConnectionManager) -> Self {
        RedisSeatBoard { redis }
    }

    pub fn connection(&self) -> ConnectionManager {
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
        let mut redis = self.redis.clone();
        let mut pipe = redis::pipe();
        for event in events {
            pipe.cmd("HGETALL").arg(board_key(event));
        }
        let raw: Vec<HashMap<String, String>> = pipe.query_async(&mut redis).await?;
        let now = chrono::Utc::now().timestamp_millis();
        Ok(raw.into_iter().map(|r| to_live(r, now)).collect())
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
