//! The waiting room's live state in Redis, every key under the event's hash
//! tag so one script touches them atomically on an ElastiCache cluster slot:
//!
//! | key | type | holds |
//! |---|---|---|
//! | `q:{E}:users` | hash | user id → their token (one place per account) |
//! | `q:{E}:pre` | sorted set | token → a random draw, for fans who joined before the opening |
//! | `q:{E}:fifo` | hash | token → place, for fans who joined after it |
//! | `q:{E}:adm` | hash | `n` admitted, `t` last move, `c` credit (1/60000 admissions), `seq` joins after opening |
//! | `q:{E}:exp` | sorted set | place → pass expiry, for admitted places whose pass is unused |
//! | `q:{E}:used` | hash | place → pass expiry, once a booking has spent the pass |
//! | `seats:{E}` | hash | the seat board (see redis_seats.rs), read to tell a sell-out |
//! | `q:{E}:avail` | string | `left|held` seats, cached for a second |
//!
//! Places: the pre-queue is frozen at the opening, and a pre-queue fan's
//! place is the rank of their random draw, so arriving early gives no edge
//! and no shuffle ever runs; later fans get the places after it in arrival
//! order. Admission: every call first moves the line to now, adding
//! `rate × elapsed` slots (the first at the opening) and one slot for each
//! pass that lapsed unused, and admits that many fans. Slots that find
//! nobody in line lapse, as they do while every seat is sold; so a crowd
//! that arrives late is still let in at the rate. While every seat is sold
//! or held, the slots earned are kept, at most one per held seat, and spent
//! the moment holds lapse and seats come back.

use std::sync::LazyLock;

use async_trait::async_trait;
use redis::Script;
use uuid::Uuid;

use super::{redis_conn::RedisConn, redis_seats::board_key, LineRules, QueueStore};
use crate::{
    domain::{
        event::EventId,
        onsale::{LineSnapshot, PlaceState, QueueSnapshot, QueueToken},
    },
    error::ApiError,
};

/// Shared by every script: the arguments, the sell-out test and the move
/// of the line. ARGV[1..5] = now, opens, rate per minute, pass ttl, seats.
const PRELUDE: &str = r"
local now, opens, rate = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local ttl, total = tonumber(ARGV[4]), tonumber(ARGV[5])

-- Seats left and seats held (unpaid, so they may come back).
local function seats_left()
  local cached = redis.call('GET', KEYS[8])
  if cached then
    local left, held = string.match(cached, '^(%d+)|(%d+)$')
    if left then return tonumber(left), tonumber(held) end
  end
  local taken, held = 0, 0
  for _, v in ipairs(redis.call('HVALS', KEYS[7])) do
    if string.sub(v, 1, 2) == 'B|' then
      taken = taken + 1
    else
      local expires = tonumber(string.match(v, '^H|[^|]+|(%d+)$'))
      if expires and expires > now then
        taken = taken + 1
        held = held + 1
      end
    end
  end
  local left = math.max(total - taken, 0)
  redis.call('SET', KEYS[8], left .. '|' .. held, 'PX', 1000)
  return left, held
end

local function advance()
  local a = redis.call('HMGET', KEYS[4], 'n', 't', 'c', 'seq')
  local n, seq = tonumber(a[1]) or 0, tonumber(a[4]) or 0
  local len = redis.call('ZCARD', KEYS[2]) + seq
  if now < opens then return n, len, false end
  local t, credit = tonumber(a[2]) or opens, tonumber(a[3]) or 60000
  if now > t then
    credit = credit + (now - t) * rate
    t = now
  end
  local slots = math.floor(credit / 60000)
  credit = credit - slots * 60000
  slots = slots + redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now)
  local left, held = seats_left()
  local sold_out = left == 0
  if sold_out then
    -- Held seats come back when their holds lapse: keep the slots earned
    -- meanwhile for that moment, at most one per held seat, instead of
    -- discarding them, or a bot's lapsing holds starve the line.
    credit = math.min(credit + slots * 60000, held * 60000)
    slots = 0
  end
  local admit = math.min(slots, len - n)
  for place = n, n + admit - 1 do
    redis.call('ZADD', KEYS[5], now + ttl, place)
  end
  n = n + admit
  redis.call('HSET', KEYS[4], 'n', n, 't', t, 'c', credit)
  return n, len, sold_out
end

local function place_of(token)
  local place = redis.call('HGET', KEYS[3], token)
  if place then return tonumber(place) end
  if not redis.call('ZSCORE', KEYS[2], token) then return nil end
  if now < opens then return -1 end
  return redis.call('ZRANK', KEYS[2], token)
end

-- {state, place, admitted, in line, sold out, pass expiry}; state P(re-queue),
-- W(aiting), A(dmitted) or L(apsed).
local function describe(token, n, len, sold_out)
  local place = place_of(token)
  local out = sold_out and 1 or 0
  if place == nil then return nil end
  if place < 0 then return {'P', -1, n, len, out, 0} end
  if place >= n then return {'W', place, n, len, out, 0} end
  local expires = tonumber(redis.call('ZSCORE', KEYS[5], place) or redis.call('HGET', KEYS[6], place))
  if expires and expires > now then return {'A', place, n, len, out, expires} end
  return {'L', place, n, len, out, 0}
end
";

/// ARGV[6] = user, ARGV[7] = a new token, ARGV[8] = its random draw.
const JOIN: &str = r"
local n, len, sold_out = advance()
local token = redis.call('HGET', KEYS[1], ARGV[6])
if token then
  local state = describe(token, n, len, sold_out)
  if state and state[1] ~= 'L' then
    table.insert(state, 1, token)
    return state
  end
end
token = ARGV[7]
if now < opens then
  redis.call('ZADD', KEYS[2], ARGV[8], token)
else
  local seq = redis.call('HINCRBY', KEYS[4], 'seq', 1)
  redis.call('HSET', KEYS[3], token, redis.call('ZCARD', KEYS[2]) + seq - 1)
end
redis.call('HSET', KEYS[1], ARGV[6], token)
local state = describe(token, n, len + 1, sold_out)
table.insert(state, 1, token)
return state
";

/// ARGV[6] = user, ARGV[7] = token: nothing unless the token is the user's.
const STATUS: &str = r"
if redis.call('HGET', KEYS[1], ARGV[6]) ~= ARGV[7] then return false end
local n, len, sold_out = advance()
return describe(ARGV[7], n, len, sold_out)
";

/// ARGV[6] = place. A pass is spent once and then stays good until its
/// expiry (a booking that lost its seats may try again with it).
const SPEND: &str = r"
local place = ARGV[6]
local expires = tonumber(redis.call('ZSCORE', KEYS[5], place))
if expires and expires > now then
  redis.call('ZREM', KEYS[5], place)
  redis.call('HSET', KEYS[6], place, expires)
  return 1
end
expires = tonumber(redis.call('HGET', KEYS[6], place))
if expires and expires > now then return 1 end
return 0
";

const LINE: &str = r"
local n, len, sold_out = advance()
return {n, len, sold_out and 1 or 0}
";

static JOIN_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(&format!("{PRELUDE}{JOIN}")));
static STATUS_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(&format!("{PRELUDE}{STATUS}")));
static SPEND_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(&format!("{PRELUDE}{SPEND}")));
static LINE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(&format!("{PRELUDE}{LINE}")));

/// The keys every script is given, in the order the prelude names them.
pub fn queue_keys(event: &EventId) -> [String; 8] {
    let q = |part: &str| format!("q:{{{event}}}:{part}");
    [q("users"), q("pre"), q("fifo"), q("adm"), q("exp"), q("used"), board_key(event), q("avail")]
}

#[derive(Clone)]
pub struct RedisQueue {
    redis: RedisConn,
}

impl RedisQueue {
    pub fn new(redis: RedisConn) -> Self {
        RedisQueue { redis }
    }

    async fn run<T: redis::FromRedisValue>(
        &self,
        script: &Script,
        event: &EventId,
        rules: &LineRules,
        extra: &[String],
    ) -> Result<T, ApiError> {
        let mut redis = self.redis.clone();
        let mut invocation = script.prepare_invoke();
        for key in queue_keys(event) {
            invocation.key(key);
        }
        invocation
            .arg(rules.now_ms)
            .arg(rules.opens_at_ms)
            .arg(rules.per_minute)
            .arg(rules.pass_ttl_ms)
            .arg(rules.total_seats);
        for arg in extra {
            invocation.arg(arg);
        }
        Ok(invocation.invoke_async(&mut redis).await?)
    }
}

type RawPlace = (String, i64, i64, i64, i64, i64);

fn snapshot((state, place, admitted, in_line, sold_out, expires): RawPlace) -> Result<QueueSnapshot, ApiError> {
    let state = match state.as_str() {
        "P" => PlaceState::PreQueue,
        "W" => PlaceState::Waiting,
        "A" => PlaceState::Admitted { pass_expires_ms: expires },
        "L" => PlaceState::Lapsed,
        other => return Err(ApiError::Internal(anyhow::anyhow!("queue script answered state {other:?}"))),
    };
    Ok(QueueSnapshot {
        state,
        place: u64::try_from(place).ok(),
        admitted: admitted.max(0) as u64,
        in_line: in_line.max(0) as u64,
        sold_out: sold_out == 1,
    })
}

#[async_trait]
impl QueueStore for RedisQueue {
    async fn join(
        &self,
        rules: &LineRules,
        user: Uuid,
        token: &QueueToken,
        draw: u64,
    ) -> Result<(QueueToken, QueueSnapshot), ApiError> {
        // Draws stay below 2^52 so Redis scores (doubles) keep them exact.
        let args = [user.to_string(), token.to_string(), (draw >> 12).to_string()];
        let (kept, state, place, admitted, in_line, sold_out, expires): (String, String, i64, i64, i64, i64, i64) =
            self.run(&JOIN_SCRIPT, &token.event, rules, &args).await?;
        let kept = QueueToken::parse(&kept)
            .map_err(|_| ApiError::Internal(anyhow::anyhow!("queue holds a malformed token {kept:?}")))?;
        Ok((kept, snapshot((state, place, admitted, in_line, sold_out, expires))?))
    }

    async fn status(
        &self,
        rules: &LineRules,
        user: Uuid,
        token: &QueueToken,
    ) -> Result<Option<QueueSnapshot>, ApiError> {
        let args = [user.to_string(), token.to_string()];
        let raw: Option<RawPlace> = self.run(&STATUS_SCRIPT, &token.event, rules, &args).await?;
        raw.map(snapshot).transpose()
    }

    async fn spend_pass(&self, rules: &LineRules, event: &EventId, place: u64) -> Result<bool, ApiError> {
        let spent: i64 = self.run(&SPEND_SCRIPT, event, rules, &[place.to_string()]).await?;
        Ok(spent == 1)
    }

    async fn line(&self, rules: &LineRules, event: &EventId) -> Result<LineSnapshot, ApiError> {
        let (admitted, in_line, sold_out): (i64, i64, i64) = self.run(&LINE_SCRIPT, event, rules, &[]).await?;
        Ok(LineSnapshot { admitted: admitted.max(0) as u64, in_line: in_line.max(0) as u64, sold_out: sold_out == 1 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_of_an_event_shares_its_hash_tag() {
        let keys = queue_keys(&EventId::parse("eras").unwrap());
        assert!(keys.iter().all(|k| k.contains("{eras}")), "{keys:?}");
        assert_eq!(keys[6], "seats:{eras}", "the sell-out test reads the seat board itself");
    }
}
