//! Bookings: the lifecycle, request validation and the views the API shows.
//!
//! ```text
//! PENDING ──seat.reserved──▶ RESERVED ──pay──▶ CONFIRMED ──cancel──▶ CANCELLED (refunded)
//!    │  └──────────────pay──────────────────────▲
//!    ├─ cancel ─▶ CANCELLED     ├─ expiresAt passes ─▶ EXPIRED
//!    └─ seat.reservation_failed ─▶ FAILED (refunded if it was paid)
//! ```

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    event::EventId,
    money::{Cents, Major},
    user::Tier,
};
use super::{event::Layout, fields::Invalid};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum BookingStatus {
    Pending,
    Reserved,
    Confirmed,
    Cancelled,
    Expired,
    Failed,
}

impl BookingStatus {
    /// Unpaid and still holding seats.
    pub fn is_open(self) -> bool {
        matches!(self, BookingStatus::Pending | BookingStatus::Reserved)
    }

    /// Holding seats: open or paid.
    pub fn is_active(self) -> bool {
        self.is_open() || self == BookingStatus::Confirmed
    }

    pub fn as_str(self) -> &'static str {
        match self {
            BookingStatus::Pending => "PENDING",
            BookingStatus::Reserved => "RESERVED",
            BookingStatus::Confirmed => "CONFIRMED",
            BookingStatus::Cancelled => "CANCELLED",
            BookingStatus::Expired => "EXPIRED",
            BookingStatus::Failed => "FAILED",
        }
    }

    /// The status as readers should see it at `now`: an open booking past
    /// its deadline is expired even before the expirer gets to it.
    pub fn effective(self, expires_at: DateTime<Utc>, now: DateTime<Utc>) -> BookingStatus {
        if self.is_open() && expires_at <= now {
            BookingStatus::Expired
        } else {
            self
        }
    }
}

/// A text that names no booking status. The domain's own error: a caller
/// decides whether that is a client's mistake (a query filter, a 400) or a
/// fault (a corrupt stored value, a 500).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a booking status (PENDING, RESERVED, CONFIRMED, CANCELLED, EXPIRED, FAILED)")]
pub struct UnknownStatus(pub String);

impl std::str::FromStr for BookingStatus {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, UnknownStatus> {
        match s.to_uppercase().as_str() {
            "PENDING" => Ok(BookingStatus::Pending),
            "RESERVED" => Ok(BookingStatus::Reserved),
            "CONFIRMED" => Ok(BookingStatus::Confirmed),
            "CANCELLED" => Ok(BookingStatus::Cancelled),
            "EXPIRED" => Ok(BookingStatus::Expired),
            "FAILED" => Ok(BookingStatus::Failed),
            _ => Err(UnknownStatus(s.to_owned())),
        }
    }
}

/// The body of `POST /bookings`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateBookingRequest {
    pub event_id: Option<String>,
    pub seat_ids: Option<Vec<String>>,
    /// Required while the event's on-sale has a waiting room: the pass the
    /// queue handed this fan (`GET /queue/{token}`).
    pub admission_pass: Option<String>,
}

/// A seat of a booking, priced by the server from the event layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookedSeat {
    pub label: String,
    pub section: String,
    pub tier: Tier,
    pub price: Cents,
}

/// A validated booking request: the seats exist, belong to the event, are
/// distinct and within the limit, and carry the server's prices.
#[derive(Debug, Clone)]
pub struct SeatSelection {
    pub event_id: EventId,
    pub seats: Vec<BookedSeat>,
    pub total: Cents,
}

impl CreateBookingRequest {
    /// First pass, before the layout is loaded: shapes and limits.
    pub fn event_and_seats(self, max_seats: usize) -> Result<(EventId, Vec<String>), Invalid> {
        let mut check = super::fields::FieldCheck::default();
        let event_id = match self.event_id.as_deref() {
            None => {
                check.fail("eventId", "is required");
                None
            }
            Some(raw) => match EventId::parse(raw) {
                Ok(id) => Some(id),
                Err(_) => {
                    check.fail("eventId", "is not a valid event id");
                    None
                }
            },
        };
        let seat_ids = self.seat_ids.unwrap_or_default();
        if seat_ids.is_empty() {
            check.fail("seatIds", "must list at least one seat");
        } else if seat_ids.len() > max_seats {
            check.fail("seatIds", &format!("must list at most {max_seats} seats"));
        } else {
            let mut seen = HashSet::new();
            let duplicates: Vec<&str> =
                seat_ids.iter().filter(|id| !seen.insert(id.as_str())).map(String::as_str).collect();
            if !duplicates.is_empty() {
                check.fail("seatIds", &format!("lists a seat more than once: {}", duplicates.join(", ")));
            }
        }
        check.finish()?;
        Ok((event_id.expect("checked"), seat_ids))
    }
}

/// Second pass, against the event's layout: every id is `<eventId>_<label>`
/// of a seat that exists. Unknown seats and seats of another event are
/// named in the error.
pub fn select_seats(layout: &Layout, seat_ids: &[String]) -> Result<SeatSelection, Invalid> {
    let event = &layout.event;
    let prefix = format!("{}_", event.id);
    let mut seats = Vec::with_capacity(seat_ids.len());
    let mut unknown = Vec::new();
    for id in seat_ids {
        let seat = id.strip_prefix(&prefix).and_then(|label| layout.seats.iter().find(|s| s.label == label));
        match seat {
            Some(seat) => seats.push(BookedSeat {
                label: seat.label.clone(),
                section: seat.section.clone(),
                tier: seat.tier,
                price: seat.price,
            }),
            None => unknown.push(id.as_str()),
        }
    }
    if !unknown.is_empty() {
        let shown: Vec<&str> = unknown.iter().take(10).map(|s| prefix_of(s, 80)).collect();
        return Err(Invalid::field("seatIds", &format!("are not seats of event {}: {}", event.id, shown.join(", "))));
    }
    let total = seats
        .iter()
        .try_fold(Cents(0), |sum, seat| sum.checked_add(seat.price))
        .ok_or_else(|| Invalid::field("seatIds", "total price is too large"))?;
    Ok(SeatSelection { event_id: event.id.clone(), seats, total })
}

/// At most the first `max_chars` characters of `text`, cut on a character
/// boundary: user input is UTF-8, and a byte cut inside a character panics.
pub fn prefix_of(text: &str, max_chars: usize) -> &str {
    match text.char_indices().nth(max_chars) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// A booking as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booking {
    pub id: Uuid,
    pub user_id: Uuid,
    pub event_id: EventId,
    pub status: BookingStatus,
    pub total: Cents,
    pub currency: String,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub failure_reason: Option<String>,
    pub seats: Vec<BookedSeat>,
}

#[cfg(test)]
impl Booking {
    /// A booking of `seats` for unit tests, in USD, due now; each test
    /// changes the fields it is about.
    pub(crate) fn sample(status: BookingStatus, seats: Vec<BookedSeat>) -> Booking {
        let now = Utc::now();
        let total = Cents(seats.iter().map(|seat| seat.price.0).sum());
        Booking {
            id: Uuid::new_v4(),
            user_id: Uuid::nil(),
            event_id: EventId::parse("evt-1").expect("a valid id"),
            status,
            total,
            currency: "USD".into(),
            expires_at: now,
            created_at: now,
            updated_at: now,
            failure_reason: None,
            seats,
        }
    }
}

impl Booking {
    pub fn labels(&self) -> Vec<String> {
        self.seats.iter().map(|s| s.label.clone()).collect()
    }

    /// What a cancel does to this booking, decided by its whole history and
    /// not by its status alone. Open and paid bookings can be cancelled (a
    /// paid one is refunded) until the door admitted one of its tickets or
    /// the event started: after that the seat was used, or could have been,
    /// and money back would be a free ticket. Cancelling twice changes
    /// nothing; a lapsed or failed one is over.
    pub fn on_cancel(&self, facts: CancelFacts) -> CancelVerdict {
        match self.status.effective(self.expires_at, facts.now) {
            BookingStatus::Cancelled => CancelVerdict::AlreadyCancelled,
            closed @ (BookingStatus::Expired | BookingStatus::Failed) => CancelVerdict::Closed(closed),
            _ if facts.admitted => CancelVerdict::TooLate(TooLate::TicketUsed),
            _ if facts.now >= facts.event_starts_at => CancelVerdict::TooLate(TooLate::EventStarted),
            _ => CancelVerdict::Cancel { refund: self.status == BookingStatus::Confirmed },
        }
    }

    /// Whether a pay at `now` may charge the card: only an open booking
    /// whose hold has not lapsed.
    pub fn on_pay(&self, now: DateTime<Utc>) -> PayVerdict {
        match self.status.effective(self.expires_at, now) {
            BookingStatus::Confirmed => PayVerdict::AlreadyPaid,
            open if open.is_open() => PayVerdict::Charge,
            closed => PayVerdict::Closed(closed),
        }
    }
}

/// What a cancel is decided on besides the booking itself: the clock, when
/// the event starts (the catalog's), and whether the door admitted any of
/// the booking's tickets (read under the same row lock the door takes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CancelFacts {
    pub now: DateTime<Utc>,
    pub event_starts_at: DateTime<Utc>,
    pub admitted: bool,
}

/// See `Booking::on_cancel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelVerdict {
    Cancel { refund: bool },
    AlreadyCancelled,
    Closed(BookingStatus),
    TooLate(TooLate),
}

/// Why a booking that is still active can no longer be cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TooLate {
    /// The door admitted one of its tickets.
    TicketUsed,
    /// The event has started (or taken place).
    EventStarted,
}

/// See `Booking::on_pay`. A charge approved after the booking closed is
/// owed back: the same verdict, asked again when the provider answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayVerdict {
    Charge,
    AlreadyPaid,
    Closed(BookingStatus),
}

impl PayVerdict {
    /// The status that refuses a charge now, if any.
    pub fn refusal(self) -> Option<BookingStatus> {
        match self {
            PayVerdict::Charge => None,
            PayVerdict::AlreadyPaid => Some(BookingStatus::Confirmed),
            PayVerdict::Closed(status) => Some(status),
        }
    }
}

/// The seat reserver's verdict on one booking.requested, from whether its
/// seats were free in the read model and, if they were, the booking's
/// status in PostgreSQL read after the hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReservationVerdict {
    /// Seats held for an open booking: answer seat.reserved.
    Reserved,
    /// Paid before the reserver got to it: book the seats, answer seat.reserved.
    Book,
    /// Closed or never committed: release the hold, answer nothing.
    Release,
    /// Someone else has a seat: answer seat.reservation_failed.
    Failed,
}

pub fn reservation_verdict(seats_free: bool, status: Option<BookingStatus>) -> ReservationVerdict {
    match (seats_free, status) {
        (false, _) => ReservationVerdict::Failed,
        (true, Some(BookingStatus::Confirmed)) => ReservationVerdict::Book,
        (true, Some(status)) if status.is_open() => ReservationVerdict::Reserved,
        (true, _) => ReservationVerdict::Release,
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeatLine {
    pub id: String,
    pub label: String,
    pub section: String,
    pub tier: Tier,
    pub price: Major,
    pub price_cents: i64,
}

/// The JSON shape of a booking.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BookingView {
    pub id: Uuid,
    pub event_id: String,
    pub status: BookingStatus,
    pub seats: Vec<SeatLine>,
    pub total: Major,
    pub total_cents: i64,
    pub currency: String,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
}

impl BookingView {
    pub fn new(booking: &Booking, now: DateTime<Utc>) -> Self {
        BookingView {
            id: booking.id,
            event_id: booking.event_id.to_string(),
            status: booking.status.effective(booking.expires_at, now),
            seats: booking
                .seats
                .iter()
                .map(|s| SeatLine {
                    id: booking.event_id.seat_id(&s.label),
                    label: s.label.clone(),
                    section: s.section.clone(),
                    tier: s.tier,
                    price: Major(s.price),
                    price_cents: s.price.0,
                })
                .collect(),
            total: Major(booking.total),
            total_cents: booking.total.0,
            currency: booking.currency.clone(),
            expires_at: booking.expires_at,
            created_at: booking.created_at,
            updated_at: booking.updated_at,
            failure_reason: booking.failure_reason.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::NewEventRequest;

    #[test]
    fn statuses_parse_in_any_case_and_an_unknown_one_is_the_domain_s_error() {
        assert_eq!("confirmed".parse::<BookingStatus>(), Ok(BookingStatus::Confirmed));
        assert_eq!("PENDING".parse::<BookingStatus>(), Ok(BookingStatus::Pending));
        assert_eq!("SOLD".parse::<BookingStatus>(), Err(UnknownStatus("SOLD".into())));
    }

    fn layout() -> Layout {
        let event = serde_json::from_value::<NewEventRequest>(serde_json::json!({
            "name": "E", "venue": "V", "date": "2030-01-01T00:00:00Z", "totalSeats": 20, "price": 50,
            "description": "d", "category": "c"
        }))
        .unwrap()
        .into_event(EventId::parse("ev-1").unwrap(), Utc::now())
        .unwrap();
        Layout { seats: event.seats(), event }
    }

    fn request(event: &str, seats: &[&str]) -> CreateBookingRequest {
        CreateBookingRequest {
            event_id: Some(event.into()),
            seat_ids: Some(seats.iter().map(|s| s.to_string()).collect()),
            admission_pass: None,
        }
    }

    #[test]
    fn seats_are_priced_by_the_server() {
        let (_, ids) = request("ev-1", &["ev-1_A1", "ev-1_B2"]).event_and_seats(10).unwrap();
        let selection = select_seats(&layout(), &ids).unwrap();
        assert_eq!(selection.total, Cents(10_000));
        assert_eq!(selection.seats[1].label, "B2");
    }

    #[test]
    fn empty_oversized_and_duplicate_lists_are_rejected() {
        assert!(request("ev-1", &[]).event_and_seats(10).is_err());
        let many: Vec<String> = (1..=11).map(|n| format!("ev-1_A{n}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(request("ev-1", &many).event_and_seats(10).is_err());
        let err = request("ev-1", &["ev-1_A1", "ev-1_A1"]).event_and_seats(10).unwrap_err();
        assert!(err.0["seatIds"].contains("more than once"), "{err}");
        assert!(request("{\"$gt\":\"\"}", &["x"]).event_and_seats(10).is_err());
    }

    #[test]
    fn unknown_seats_and_seats_of_other_events_are_named() {
        let err = select_seats(&layout(), &["ev-1_Z9".into(), "ev-2_A1".into(), "ev-1_A1".into()]).unwrap_err();
        let text = &err.0["seatIds"];
        assert!(text.contains("ev-1_Z9") && text.contains("ev-2_A1") && !text.contains("ev-1_A1,"), "{text}");
    }

    #[test]
    fn an_unknown_seat_id_of_multibyte_characters_is_a_400_not_a_panic() {
        let id = format!("a{}", "é".repeat(40)); // byte 80 falls inside an é
        let err = select_seats(&layout(), &[id]).unwrap_err();
        assert!(err.0.contains_key("seatIds"), "{err}");
        assert_eq!(prefix_of("aé€🎫", 3), "aé€");
        assert_eq!(prefix_of("short", 80), "short");
    }

    fn before_the_show(now: DateTime<Utc>) -> CancelFacts {
        CancelFacts { now, event_starts_at: now + chrono::Duration::days(1), admitted: false }
    }

    #[test]
    fn cancel_refunds_a_paid_booking_repeats_harmlessly_and_refuses_a_closed_one() {
        let now = Utc::now();
        let facts = before_the_show(now);
        let open = Booking {
            expires_at: now + chrono::Duration::minutes(5),
            ..Booking::sample(BookingStatus::Pending, vec![])
        };
        assert_eq!(open.on_cancel(facts), CancelVerdict::Cancel { refund: false });
        let paid = Booking { status: BookingStatus::Confirmed, ..open.clone() };
        assert_eq!(paid.on_cancel(facts), CancelVerdict::Cancel { refund: true });
        let cancelled = Booking { status: BookingStatus::Cancelled, ..open.clone() };
        assert_eq!(cancelled.on_cancel(facts), CancelVerdict::AlreadyCancelled);
        let lapsed = Booking { expires_at: now, ..open.clone() };
        assert_eq!(lapsed.on_cancel(facts), CancelVerdict::Closed(BookingStatus::Expired));
        let failed = Booking { status: BookingStatus::Failed, ..open };
        assert_eq!(failed.on_cancel(facts), CancelVerdict::Closed(BookingStatus::Failed));
    }

    #[test]
    fn no_cancel_and_no_refund_once_a_ticket_was_used_or_the_show_began() {
        let now = Utc::now();
        let paid = Booking {
            expires_at: now - chrono::Duration::minutes(5),
            ..Booking::sample(BookingStatus::Confirmed, vec![])
        };
        let used = CancelFacts { admitted: true, ..before_the_show(now) };
        assert_eq!(paid.on_cancel(used), CancelVerdict::TooLate(TooLate::TicketUsed));
        let started = CancelFacts { event_starts_at: now, ..before_the_show(now) };
        assert_eq!(paid.on_cancel(started), CancelVerdict::TooLate(TooLate::EventStarted));
        let cancelled = Booking { status: BookingStatus::Cancelled, ..paid };
        assert_eq!(cancelled.on_cancel(used), CancelVerdict::AlreadyCancelled, "a repeat still answers as before");
    }

    #[test]
    fn only_an_open_booking_within_its_hold_may_be_charged() {
        let now = Utc::now();
        let open = Booking {
            expires_at: now + chrono::Duration::minutes(5),
            ..Booking::sample(BookingStatus::Reserved, vec![])
        };
        assert_eq!(open.on_pay(now), PayVerdict::Charge);
        assert_eq!(Booking { status: BookingStatus::Confirmed, ..open.clone() }.on_pay(now), PayVerdict::AlreadyPaid);
        assert_eq!(Booking { expires_at: now, ..open.clone() }.on_pay(now), PayVerdict::Closed(BookingStatus::Expired));
        let cancelled = Booking { status: BookingStatus::Cancelled, ..open };
        assert_eq!(cancelled.on_pay(now), PayVerdict::Closed(BookingStatus::Cancelled));
    }

    #[test]
    fn the_reserver_answers_by_seats_and_by_what_postgres_says_of_the_booking() {
        use ReservationVerdict::*;
        assert_eq!(reservation_verdict(false, Some(BookingStatus::Pending)), Failed);
        assert_eq!(reservation_verdict(false, None), Failed);
        assert_eq!(reservation_verdict(true, Some(BookingStatus::Pending)), Reserved);
        assert_eq!(reservation_verdict(true, Some(BookingStatus::Reserved)), Reserved);
        assert_eq!(reservation_verdict(true, Some(BookingStatus::Confirmed)), Book);
        for closed in [BookingStatus::Cancelled, BookingStatus::Expired, BookingStatus::Failed] {
            assert_eq!(reservation_verdict(true, Some(closed)), Release, "{closed:?}");
        }
        assert_eq!(reservation_verdict(true, None), Release, "a booking that never committed");
    }

    #[test]
    fn open_bookings_past_their_deadline_read_as_expired() {
        let now = Utc::now();
        let past = now - chrono::Duration::seconds(1);
        assert_eq!(BookingStatus::Pending.effective(past, now), BookingStatus::Expired);
        assert_eq!(BookingStatus::Reserved.effective(past, now), BookingStatus::Expired);
        assert_eq!(BookingStatus::Confirmed.effective(past, now), BookingStatus::Confirmed);
        assert_eq!(BookingStatus::Pending.effective(now + chrono::Duration::seconds(5), now), BookingStatus::Pending);
    }
}
