//! On-sales and the waiting room, as rules: what an admin may set, and what
//! a fan is told about their place in line. No store and no HTTP here; the
//! live state comes from [`crate::repo::QueueStore`] as a [`QueueSnapshot`].

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::{
    event::EventId,
    fields::{FieldCheck, Invalid},
};

/// The longest a waiting fan is told to wait between two status reads. A
/// sell-out is noticed by the queue within a second (its availability count
/// is cached that long), so every waiting fan learns of it within this plus
/// one second.
pub const MAX_POLL: Duration = Duration::from_secs(3);
/// Before the doors open, fans are told to come back no later than this
/// (or at the opening, if sooner).
pub const MAX_PRE_QUEUE_POLL: Duration = Duration::from_secs(30);
/// How often a fan who holds a pass, or whose turn passed, needs to ask.
pub const IDLE_POLL: Duration = Duration::from_secs(15);
pub const DEFAULT_PASS_TTL: Duration = Duration::from_secs(180);

/// An event's on-sale: when bookings open, and whether fans go through the
/// waiting room first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnSale {
    pub event_id: EventId,
    pub opens_at: DateTime<Utc>,
    pub queue_enabled: bool,
    /// Fans admitted from the line per minute (the first at the opening).
    pub admission_per_minute: u32,
    /// How long an admission pass stays valid; unused, its slot goes to the
    /// next in line.
    pub pass_ttl: Duration,
    /// Overrides the event's per-user seat limit during this on-sale.
    pub max_seats_per_user: Option<u32>,
}

impl OnSale {
    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        now >= self.opens_at
    }

    pub fn opens_at_ms(&self) -> i64 {
        self.opens_at.timestamp_millis()
    }
}

/// The body of `PUT /events/{id}/onsale`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OnSaleRequest {
    pub opens_at: Option<String>,
    pub queue_enabled: Option<bool>,
    pub admission_per_minute: Option<u32>,
    pub pass_ttl_seconds: Option<u32>,
    pub max_seats_per_user: Option<u32>,
}

impl OnSaleRequest {
    /// Checks every field against the event it is for; all problems are
    /// reported at once, by field.
    pub fn parse(self, event: EventId, event_date: DateTime<Utc>) -> Result<OnSale, Invalid> {
        let mut check = FieldCheck::default();
        let opens_at = check.required("opensAt", self.opens_at.as_deref(), |raw| {
            DateTime::parse_from_rfc3339(raw)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| "must be an RFC 3339 date-time, e.g. 2027-03-01T10:00:00Z")
        });
        if let Some(opens) = opens_at {
            if opens >= event_date {
                check.fail("opensAt", "must be before the event's date");
            }
        }
        let queue_enabled = self.queue_enabled.unwrap_or(false);
        let admission_per_minute = match self.admission_per_minute {
            Some(rate) if (1..=1_000_000).contains(&rate) => Some(rate),
            Some(_) => {
                check.fail("admissionPerMinute", "must be an integer from 1 to 1000000");
                None
            }
            None if queue_enabled => {
                check.fail("admissionPerMinute", "is required when queueEnabled is true");
                None
            }
            // No queue: nobody waits, so the rate is never used.
            None => Some(1_000_000),
        };
        let pass_ttl = match self.pass_ttl_seconds {
            None => Some(DEFAULT_PASS_TTL),
            Some(secs) if (10..=3600).contains(&secs) => Some(Duration::from_secs(secs.into())),
            Some(_) => {
                check.fail("passTtlSeconds", "must be an integer from 10 to 3600");
                None
            }
        };
        if let Some(limit) = self.max_seats_per_user {
            if !(1..=100).contains(&limit) {
                check.fail("maxSeatsPerUser", "must be an integer from 1 to 100");
            }
        }
        check.finish()?;
        Ok(OnSale {
            event_id: event,
            opens_at: opens_at.expect("checked"),
            queue_enabled,
            admission_per_minute: admission_per_minute.expect("checked"),
            pass_ttl: pass_ttl.expect("checked"),
            max_seats_per_user: self.max_seats_per_user,
        })
    }
}

/// An on-sale as the API shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OnSaleView {
    pub event_id: String,
    pub opens_at: DateTime<Utc>,
    pub queue_enabled: bool,
    pub admission_per_minute: u32,
    pub pass_ttl_seconds: u64,
    pub max_seats_per_user: Option<u32>,
}

impl From<&OnSale> for OnSaleView {
    fn from(sale: &OnSale) -> Self {
        OnSaleView {
            event_id: sale.event_id.to_string(),
            opens_at: sale.opens_at,
            queue_enabled: sale.queue_enabled,
            admission_per_minute: sale.admission_per_minute,
            pass_ttl_seconds: sale.pass_ttl.as_secs(),
            max_seats_per_user: sale.max_seats_per_user,
        }
    }
}

/// A fan's place in line. The token names the event, so a status read
/// goes straight to that event's keys (one Redis slot) with no look-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueToken {
    pub event: EventId,
    pub secret: String,
}

impl QueueToken {
    pub fn generate(event: &EventId) -> QueueToken {
        QueueToken { event: event.clone(), secret: uuid::Uuid::new_v4().simple().to_string() }
    }

    pub fn parse(raw: &str) -> Result<QueueToken, NoSuchPlace> {
        let (event, secret) = raw.rsplit_once('.').ok_or(NoSuchPlace)?;
        let secret_ok = secret.len() == 32 && secret.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
        if !secret_ok {
            return Err(NoSuchPlace);
        }
        Ok(QueueToken { event: EventId::parse(event).map_err(|_| NoSuchPlace)?, secret: secret.to_owned() })
    }
}

/// A queue token that names no place in line: malformed, or made up. To
/// its holder that is the same as a place that does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("No such place in line")]
pub struct NoSuchPlace;

impl std::fmt::Display for QueueToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.event, self.secret)
    }
}

/// Where a place stands, as the queue store computed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaceState {
    /// Joined before the opening: the place is drawn at random when the
    /// sale opens.
    PreQueue,
    Waiting,
    /// Admitted: the pass is valid until `pass_expires_ms` (and may have
    /// been used already; it stays valid for more bookings until then).
    Admitted {
        pass_expires_ms: i64,
    },
    /// Admitted, but the pass lapsed unused; the slot went to the next fan.
    Lapsed,
}

/// The live state of one place in line (0-based `place`; `None` before the
/// opening) and of the line itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSnapshot {
    pub state: PlaceState,
    pub place: Option<u64>,
    /// Places below this number have been admitted.
    pub admitted: u64,
    pub in_line: u64,
    pub sold_out: bool,
}

/// The line as a whole (no one's place): what a CDN can serve to everyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineSnapshot {
    pub admitted: u64,
    pub in_line: u64,
    pub sold_out: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum FanState {
    /// The sale has not opened; the place is drawn at the opening.
    PreQueue,
    Waiting,
    Admitted,
    /// Every seat is sold or held: nobody is being admitted.
    SoldOut,
    /// The turn came and the pass went unused; join again for a new place.
    Lapsed,
}

/// What `GET /queue/{token}` answers.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueView {
    pub token: String,
    pub event_id: String,
    pub state: FanState,
    /// 1-based; `None` until the sale opens.
    pub position: Option<u64>,
    /// Fans in front who have not been admitted yet.
    pub ahead: Option<u64>,
    /// `ahead` at the configured rate: an upper bound, since passes that
    /// lapse unused move the line faster.
    pub estimated_wait_seconds: Option<u64>,
    pub opens_at: DateTime<Utc>,
    pub sold_out: bool,
    pub admission_pass: Option<String>,
    pub pass_expires_at: Option<DateTime<Utc>>,
    /// The same as the Retry-After header: when to ask again.
    pub retry_after_seconds: u64,
}

impl QueueView {
    /// The fan's view; `pass` is the signed admission pass when admitted.
    /// `spread` is a random number that spreads the fans' next reads (see
    /// [`spread_out`]).
    pub fn new(
        token: &QueueToken,
        sale: &OnSale,
        snap: &QueueSnapshot,
        pass: Option<String>,
        now: DateTime<Utc>,
        spread: u32,
    ) -> QueueView {
        let ahead = snap.place.map(|p| p.saturating_sub(snap.admitted));
        let wait = ahead.map(|n| wait_for(n, sale.admission_per_minute));
        let (state, retry) = match snap.state {
            PlaceState::PreQueue => {
                let until_open = (sale.opens_at - now).to_std().unwrap_or_default();
                let opening = until_open <= MAX_PRE_QUEUE_POLL;
                let base = until_open.min(MAX_PRE_QUEUE_POLL);
                (FanState::PreQueue, if opening { base + OPENING_SPREAD.mul_f64(unit(spread)) } else { base })
            }
            PlaceState::Waiting if snap.sold_out => (FanState::SoldOut, spread_out(MAX_POLL, spread)),
            PlaceState::Waiting => (FanState::Waiting, spread_out(poll_interval(wait.unwrap_or_default()), spread)),
            PlaceState::Admitted { .. } => (FanState::Admitted, IDLE_POLL),
            PlaceState::Lapsed => (FanState::Lapsed, IDLE_POLL),
        };
        let pass_expires_at = match snap.state {
            PlaceState::Admitted { pass_expires_ms } => Utc.timestamp_millis_opt(pass_expires_ms).single(),
            _ => None,
        };
        QueueView {
            token: token.to_string(),
            event_id: sale.event_id.to_string(),
            state,
            position: snap.place.map(|p| p + 1),
            ahead: ahead.filter(|_| state == FanState::Waiting || state == FanState::SoldOut),
            estimated_wait_seconds: wait.filter(|_| state == FanState::Waiting).map(|w| w.as_secs()),
            opens_at: sale.opens_at,
            sold_out: snap.sold_out,
            admission_pass: pass,
            pass_expires_at,
            retry_after_seconds: retry.as_secs().max(1),
        }
    }
}

/// What `GET /events/{id}/queue` answers to anyone: the same for every fan,
/// so a CDN may cache it for a second.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LineView {
    pub event_id: String,
    pub opens_at: DateTime<Utc>,
    pub queue_enabled: bool,
    pub admission_per_minute: u32,
    /// Positions up to this one (1-based) have been admitted.
    pub admitted_through: u64,
    pub in_line: u64,
    pub sold_out: bool,
}

impl LineView {
    pub fn new(sale: &OnSale, line: &LineSnapshot) -> LineView {
        LineView {
            event_id: sale.event_id.to_string(),
            opens_at: sale.opens_at,
            queue_enabled: sale.queue_enabled,
            admission_per_minute: sale.admission_per_minute,
            admitted_through: line.admitted,
            in_line: line.in_line,
            sold_out: line.sold_out,
        }
    }
}

/// How long `ahead` fans take to be admitted at `per_minute`.
pub fn wait_for(ahead: u64, per_minute: u32) -> Duration {
    Duration::from_millis(ahead.saturating_mul(60_000) / u64::from(per_minute.max(1)))
}

/// Fans who joined before the opening come back over this long after it,
/// not all in its first millisecond.
pub const OPENING_SPREAD: Duration = Duration::from_secs(4);

fn unit(spread: u32) -> f64 {
    f64::from(spread) / f64::from(u32::MAX)
}

/// `base` or up to a second less, at random (never under a second). Fans
/// told the same interval at the same moment (the pre-queue at the
/// opening) would otherwise come back together every few seconds for the
/// rest of the sale; with each answer drawn afresh the crowd spreads out.
/// Retry-After is whole seconds, hence a whole second of play.
pub fn spread_out(base: Duration, spread: u32) -> Duration {
    let less = Duration::from_secs(u64::from(spread % 2));
    base.saturating_sub(less).max(Duration::from_secs(1))
}

/// When a waiting fan should ask again: soon when the turn is near, never
/// later than [`MAX_POLL`], so 20,000 fans cost at most 20,000 / 3 reads a
/// second, and far fewer when most of them read the cached line instead.
pub fn poll_interval(wait: Duration) -> Duration {
    (wait / 10).clamp(Duration::from_secs(1), MAX_POLL)
}

/// The claims of an admission pass: who may book, for which event, and
/// which place in line it spends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PassClaims {
    pub sub: uuid::Uuid,
    pub evt: String,
    pub plc: u64,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
}

/// What the waiting room allows a booking for one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Admission {
    /// The on-sale's per-user seat limit, if it sets one.
    pub max_seats_per_user: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> EventId {
        EventId::parse("eras-tour").unwrap()
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn sale(rate: u32) -> OnSale {
        OnSale {
            event_id: event(),
            opens_at: at("2027-01-01T10:00:00Z"),
            queue_enabled: true,
            admission_per_minute: rate,
            pass_ttl: DEFAULT_PASS_TTL,
            max_seats_per_user: Some(4),
        }
    }

    #[test]
    fn an_on_sale_names_every_bad_field() {
        let request = OnSaleRequest {
            opens_at: Some("tomorrow".into()),
            queue_enabled: Some(true),
            admission_per_minute: Some(0),
            pass_ttl_seconds: Some(5),
            max_seats_per_user: Some(0),
        };
        let err = request.parse(event(), at("2027-06-01T20:00:00Z")).unwrap_err();
        let fields = err.0;
        for field in ["opensAt", "admissionPerMinute", "passTtlSeconds", "maxSeatsPerUser"] {
            assert!(fields.contains_key(field), "{field} missing in {fields:?}");
        }
    }

    #[test]
    fn a_queue_needs_a_rate_and_an_opening_before_the_show() {
        let request = OnSaleRequest {
            opens_at: Some("2027-06-02T00:00:00Z".into()),
            queue_enabled: Some(true),
            ..OnSaleRequest::default()
        };
        let err = request.parse(event(), at("2027-06-01T20:00:00Z")).unwrap_err();
        let fields = err.0;
        assert_eq!(fields["opensAt"], "must be before the event's date");
        assert_eq!(fields["admissionPerMinute"], "is required when queueEnabled is true");
    }

    #[test]
    fn a_valid_on_sale_keeps_its_settings() {
        let request = OnSaleRequest {
            opens_at: Some("2027-01-01T10:00:00+01:00".into()),
            queue_enabled: Some(true),
            admission_per_minute: Some(1000),
            pass_ttl_seconds: None,
            max_seats_per_user: Some(4),
        };
        let sale = request.parse(event(), at("2027-06-01T20:00:00Z")).unwrap();
        assert_eq!(sale.opens_at, at("2027-01-01T09:00:00Z"));
        assert_eq!(sale.pass_ttl, DEFAULT_PASS_TTL);
        assert_eq!(sale.max_seats_per_user, Some(4));
    }

    #[test]
    fn tokens_round_trip_and_refuse_anything_else() {
        let token = QueueToken::generate(&event());
        assert_eq!(QueueToken::parse(&token.to_string()).unwrap(), token);
        for bad in ["", "eras-tour", "eras-tour.", "eras-tour.xyz", "Eras.0123456789abcdef0123456789abcdef", "a.b.c"] {
            assert_eq!(QueueToken::parse(bad), Err(NoSuchPlace), "{bad}");
        }
    }

    #[test]
    fn the_wait_is_the_line_ahead_at_the_rate() {
        assert_eq!(wait_for(1000, 1000), Duration::from_secs(60));
        assert_eq!(wait_for(0, 10), Duration::ZERO);
        assert_eq!(wait_for(5, 0), Duration::from_secs(300), "a zero rate never divides by zero");
    }

    #[test]
    fn a_spread_answer_is_at_most_a_second_sooner_and_never_under_a_second() {
        assert_eq!(spread_out(MAX_POLL, 0), MAX_POLL);
        assert_eq!(spread_out(MAX_POLL, 1), Duration::from_secs(2));
        assert_eq!(spread_out(Duration::from_secs(1), 1), Duration::from_secs(1));
    }

    #[test]
    fn polling_slows_with_the_wait_but_never_past_the_cap() {
        assert_eq!(poll_interval(Duration::ZERO), Duration::from_secs(1));
        assert_eq!(poll_interval(Duration::from_secs(20)), Duration::from_secs(2));
        assert_eq!(poll_interval(Duration::from_secs(3600)), MAX_POLL);
    }

    #[test]
    fn a_waiting_fan_sees_the_line_ahead_and_sold_out_stops_the_estimate() {
        let sale = sale(60);
        let token = QueueToken::generate(&event());
        let now = at("2027-01-01T10:01:00Z");
        let mut snap =
            QueueSnapshot { state: PlaceState::Waiting, place: Some(99), admitted: 40, in_line: 500, sold_out: false };
        let view = QueueView::new(&token, &sale, &snap, None, now, 0);
        assert_eq!((view.state, view.position, view.ahead), (FanState::Waiting, Some(100), Some(59)));
        assert_eq!(view.estimated_wait_seconds, Some(59));
        assert_eq!(view.retry_after_seconds, 3);
        snap.sold_out = true;
        let view = QueueView::new(&token, &sale, &snap, None, now, 0);
        assert_eq!(view.state, FanState::SoldOut);
        assert_eq!(view.estimated_wait_seconds, None);
    }

    #[test]
    fn before_the_opening_the_fan_comes_back_at_the_opening() {
        let sale = sale(60);
        let token = QueueToken::generate(&event());
        let snap = QueueSnapshot { state: PlaceState::PreQueue, place: None, admitted: 0, in_line: 0, sold_out: false };
        let view = QueueView::new(&token, &sale, &snap, None, at("2027-01-01T09:59:50Z"), 0);
        assert_eq!((view.state, view.position, view.retry_after_seconds), (FanState::PreQueue, None, 10));
        let late = QueueView::new(&token, &sale, &snap, None, at("2027-01-01T09:59:50Z"), u32::MAX);
        assert_eq!(late.retry_after_seconds, 14, "spread over the seconds after the opening");
        let view = QueueView::new(&token, &sale, &snap, None, at("2027-01-01T08:00:00Z"), u32::MAX);
        assert_eq!(view.retry_after_seconds, MAX_PRE_QUEUE_POLL.as_secs(), "no spread needed an hour ahead");
    }

    #[test]
    fn an_admitted_fan_gets_the_pass_and_its_expiry() {
        let sale = sale(60);
        let token = QueueToken::generate(&event());
        let expires = at("2027-01-01T10:03:00Z");
        let snap = QueueSnapshot {
            state: PlaceState::Admitted { pass_expires_ms: expires.timestamp_millis() },
            place: Some(3),
            admitted: 10,
            in_line: 10,
            sold_out: false,
        };
        let view = QueueView::new(&token, &sale, &snap, Some("pass".into()), at("2027-01-01T10:00:10Z"), 0);
        assert_eq!(view.state, FanState::Admitted);
        assert_eq!(view.pass_expires_at, Some(expires));
        assert_eq!(view.admission_pass.as_deref(), Some("pass"));
        assert_eq!(view.ahead, None);
    }
}
