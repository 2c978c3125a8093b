//! The booking lifecycle's behaviour, written once and run against two
//! backends: the in-memory fakes (`cargo test -p shared`, milliseconds) and
//! PostgreSQL + Redis (`tests/tests/api/lifecycle.rs`). A rule that holds
//! against the fakes but not against the real stores, or the reverse, fails
//! one of the two runs, so the fakes cannot drift into fiction.
//!
//! Every case makes its own event and fans, so the real run can share one
//! database with the rest of the suite. No case sweeps (`expire_due`,
//! `relay_pending`, `refund_due` act on every test's rows); lapses are
//! reached through lazy expiry, which touches only the case's own seats.
//! The fake's sweeps have unit tests of their own beside it.
//!
//! `booking_behaviour_suite!(backend, run)` expands to one `#[test]` per
//! case; the list of cases is written only there.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use http::StatusCode;
use uuid::Uuid;

use super::Bookings;
use crate::{
    auth::Claims,
    catalog::LayoutCache,
    config::Config,
    domain::{
        booking::{Booking, BookingStatus, CreateBookingRequest},
        event::{Event, EventId, NewEventRequest, SeatStatus},
        user::{Role, Tier},
    },
    error::ApiError,
    idempotency,
    payments::{PayRequest, PaymentMethodInput, TestCardProvider},
    repo::{
        booking_ports::{BookingStore, IdempotencyStore},
        memory::{MemoryCatalog, OpenDoors, RecordingPublisher},
        SeatBoard, SeatHolds,
    },
};

pub const APPROVED: &str = "4242424242424242";
pub const DECLINED: &str = "4000000000000002";

/// One backend's stores, owned; each case borrows a `Bookings` from it. The
/// publisher, catalog and gate are the fakes on both backends: the suite is
/// about the store of record and the holds.
pub struct Backend<R, H> {
    pub config: Config,
    pub repo: R,
    pub holds: H,
    pub layouts: LayoutCache,
    pub publisher: RecordingPublisher,
    pub catalog: MemoryCatalog,
}

/// What the suite needs of a store of record: the booking core's ports.
pub trait Store: BookingStore + IdempotencyStore + Clone + 'static {}
impl<T: BookingStore + IdempotencyStore + Clone + 'static> Store for T {}

/// What the suite needs of a hold store: holds and the live board.
pub trait Holds: SeatHolds + SeatBoard + Clone + 'static {}
impl<T: SeatHolds + SeatBoard + Clone + 'static> Holds for T {}

impl<R: Store, H: Holds> Backend<R, H> {
    pub fn new(config: Config, repo: R, holds: H) -> Self {
        Backend {
            config,
            repo,
            holds,
            layouts: LayoutCache::default(),
            publisher: RecordingPublisher::default(),
            catalog: MemoryCatalog::default(),
        }
    }

    pub fn bookings(&self) -> Bookings<'_> {
        Bookings {
            config: &self.config,
            repo: Box::new(self.repo.clone()),
            holds: Box::new(self.holds.clone()),
            publisher: Box::new(self.publisher.clone()),
            catalog: Box::new(self.catalog.clone()),
            layouts: &self.layouts,
            gate: Box::new(OpenDoors),
        }
    }

    /// A `sample_event`, known to the layout cache.
    pub fn event(&self) -> Event {
        let event = sample_event();
        self.layouts.put(event.clone());
        event
    }

    async fn live(&self, event: &Event, label: &str) -> Option<SeatStatus> {
        self.holds.live(&event.id).await.expect("seat board").remove(label)
    }
}

/// A new event of 100 seats at $50 (rows A to J of ten), a month away, with an id no
/// other case or run uses.
pub fn sample_event() -> Event {
    let id = EventId::parse(&format!("suite-{}", Uuid::new_v4().simple())).expect("a valid id");
    let request: NewEventRequest = serde_json::from_value(serde_json::json!({
        "name": "Suite", "venue": "Hall", "date": (Utc::now() + chrono::Duration::days(30)).to_rfc3339(),
        "totalSeats": 100, "price": 50, "description": "behaviour suite", "category": "test"
    }))
    .expect("an event request");
    request.into_event(id, Utc::now()).expect("a valid event")
}

pub fn fan() -> Claims {
    Claims {
        sub: Uuid::new_v4(),
        email: "fan@example.com".into(),
        role: Role::User,
        tier: Tier::Regular,
        iat: 0,
        exp: i64::MAX,
        iss: String::new(),
        aud: String::new(),
        ver: 0,
    }
}

fn request(event: &Event, labels: &[&str]) -> CreateBookingRequest {
    CreateBookingRequest {
        event_id: Some(event.id.to_string()),
        seat_ids: Some(labels.iter().map(|label| event.id.seat_id(label)).collect()),
        admission_pass: None,
    }
}

fn card(number: &str) -> PayRequest {
    PayRequest {
        payment_method: Some(PaymentMethodInput { kind: Some("card".into()), card_number: Some(number.into()) }),
    }
}

/// A create whose hold lapsed a minute ago, as if it were made 11 minutes
/// back: how the cases reach "after the deadline" without waiting for it.
fn long_ago(config: &Config) -> DateTime<Utc> {
    Utc::now() - chrono::Duration::from_std(config.hold_ttl).expect("hold ttl") - chrono::Duration::minutes(1)
}

fn status_of(result: &Result<Booking, ApiError>) -> StatusCode {
    match result {
        Ok(_) => StatusCode::OK,
        Err(err) => err.status(),
    }
}

async fn stored<R: BookingStore, H>(b: &Backend<R, H>, id: Uuid) -> Booking {
    b.repo.find(id).await.expect("find").expect("the booking is stored")
}

/// Many fans at once for one seat: one booking, one hold, every other fan a
/// 409 that names the seat, and nothing recorded for them.
pub async fn a_seat_goes_to_one_of_many_buyers<R: Store, H: Holds>(b: &Backend<R, H>) {
    let event = b.event();
    let bookings = b.bookings();
    let fans: Vec<Claims> = (0..16).map(|_| fan()).collect();
    let attempts = fans.iter().map(|fan| bookings.create(fan, request(&event, &["A1"]), Utc::now()));
    let results = futures::future::join_all(attempts).await;
    let won: Vec<&Booking> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(won.len(), 1, "exactly one winner: {:?}", results.iter().map(status_of).collect::<Vec<_>>());
    for lost in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(lost.status(), StatusCode::CONFLICT, "{lost:?}");
        assert!(lost.details().expect("details").to_string().contains(&event.id.seat_id("A1")), "{lost:?}");
    }
    let owners = b.repo.active_seats(&event.id, &["A1".into()]).await.unwrap();
    assert_eq!(owners.iter().map(|o| o.booking).collect::<Vec<_>>(), vec![won[0].id]);
    assert_eq!(b.live(&event, "A1").await, Some(SeatStatus::Held));
    for fan in &fans {
        let (mine, _) = b.repo.list_for_user(fan.sub, None, 10, 0).await.unwrap();
        assert!(mine.iter().all(|booking| booking.id == won[0].id), "a loser has a booking recorded");
    }
}

/// A fan has one unpaid booking per event: a second is refused until the
/// first is paid or cancelled.
pub async fn one_unpaid_booking_per_fan_and_event<R: Store, H: Holds>(b: &Backend<R, H>) {
    let (event, fan, bookings) = (b.event(), fan(), b.bookings());
    let first = bookings.create(&fan, request(&event, &["A1"]), Utc::now()).await.unwrap();
    let second = bookings.create(&fan, request(&event, &["A2"]), Utc::now()).await.unwrap_err();
    assert_eq!(second.status(), StatusCode::CONFLICT);
    assert!(second.to_string().contains("unpaid booking"), "{second}");
    assert_eq!(b.live(&event, "A2").await, None, "the refused booking's hold is released");
    bookings.pay(&fan, first.id, card(APPROVED), &TestCardProvider).await.unwrap();
    let third = bookings.create(&fan, request(&event, &["A2"]), Utc::now()).await.unwrap();
    assert_eq!(third.status, BookingStatus::Pending);
}

/// A declined card changes nothing; the first good payment confirms and
/// books the seats; a second payment is refused and charges nothing.
pub async fn paying_confirms_once<R: Store, H: Holds>(b: &Backend<R, H>) {
    let (event, fan, bookings) = (b.event(), fan(), b.bookings());
    let booking = bookings.create(&fan, request(&event, &["B1", "B2"]), Utc::now()).await.unwrap();
    assert_eq!(booking.total.0, 10_000);
    let declined = bookings.pay(&fan, booking.id, card(DECLINED), &TestCardProvider).await.unwrap_err();
    assert_eq!(declined.status(), StatusCode::PAYMENT_REQUIRED);
    assert_eq!(stored(b, booking.id).await.status, BookingStatus::Pending);
    let paid = bookings.pay(&fan, booking.id, card(APPROVED), &TestCardProvider).await.unwrap();
    assert_eq!(paid.status, BookingStatus::Confirmed);
    assert_eq!(b.live(&event, "B2").await, Some(SeatStatus::Booked));
    let again = bookings.pay(&fan, booking.id, card(APPROVED), &TestCardProvider).await.unwrap_err();
    assert_eq!((again.status(), again.to_string().contains("already paid")), (StatusCode::CONFLICT, true));
    assert_eq!(stored(b, booking.id).await.status, BookingStatus::Confirmed);
}

/// Eight payments of one booking at once: one charge, one confirmation.
pub async fn parallel_payments_charge_once<R: Store, H: Holds>(b: &Backend<R, H>) {
    let (event, fan, bookings) = (b.event(), fan(), b.bookings());
    let booking = bookings.create(&fan, request(&event, &["C1"]), Utc::now()).await.unwrap();
    let pays = (0..8).map(|_| bookings.pay(&fan, booking.id, card(APPROVED), &TestCardProvider));
    let results = futures::future::join_all(pays).await;
    let statuses: Vec<StatusCode> = results.iter().map(status_of).collect();
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == StatusCode::OK || *s == StatusCode::CONFLICT), "{statuses:?}");
    assert_eq!(stored(b, booking.id).await.status, BookingStatus::Confirmed);
}

/// Cancelling frees the seats for others at once (the fan who let them go
/// waits out the cool-down), a repeat changes nothing, and a paid booking's
/// cancel is refunded and says so in its message.
pub async fn cancelling_frees_the_seats_and_refunds_a_paid_booking<R: Store, H: Holds>(b: &Backend<R, H>) {
    let (event, first, second, bookings) = (b.event(), fan(), fan(), b.bookings());
    let booking = bookings.create(&first, request(&event, &["D1"]), Utc::now()).await.unwrap();
    bookings.pay(&first, booking.id, card(APPROVED), &TestCardProvider).await.unwrap();
    let cancelled = bookings.cancel(&first, booking.id, &TestCardProvider).await.unwrap();
    assert_eq!(cancelled.status, BookingStatus::Cancelled);
    assert_eq!(b.live(&event, "D1").await, None);
    let again = bookings.cancel(&first, booking.id, &TestCardProvider).await.unwrap();
    assert_eq!(again.status, BookingStatus::Cancelled);
    let cancel_messages: Vec<serde_json::Value> = b
        .publisher
        .sent()
        .into_iter()
        .filter(|(topic, key, _)| topic.ends_with(crate::kafka::BOOKING_CANCELLED) && key == event.id.as_ref())
        .map(|(_, _, payload)| serde_json::from_slice(&payload).expect("json"))
        .collect();
    assert_eq!(cancel_messages.len(), 1, "one booking.cancelled, not one per request");
    assert_eq!(cancel_messages[0]["data"]["refundCents"], 5_000);

    let rebook = bookings.create(&first, request(&event, &["D1"]), Utc::now()).await.unwrap_err();
    assert_eq!(rebook.status(), StatusCode::TOO_MANY_REQUESTS, "{rebook:?}");
    let taken = bookings.create(&second, request(&event, &["D1"]), Utc::now()).await.unwrap();
    assert_eq!(taken.seats[0].label, "D1");
}

/// Once the event has started a paid booking stays paid: no cancel, no
/// refund, the seat not back on sale (409 EVENT_STARTED), whatever its
/// status says.
pub async fn no_cancel_or_refund_once_the_event_started<R: Store, H: Holds>(b: &Backend<R, H>) {
    let (event, fan, bookings) = (b.event(), fan(), b.bookings());
    let booking = bookings.create(&fan, request(&event, &["A9"]), Utc::now()).await.unwrap();
    bookings.pay(&fan, booking.id, card(APPROVED), &TestCardProvider).await.unwrap();
    // The show begins: the catalog says it started a minute ago.
    b.layouts.put(Event { date: Utc::now() - chrono::Duration::minutes(1), ..event.clone() });
    let refused = bookings.cancel(&fan, booking.id, &TestCardProvider).await.unwrap_err();
    assert_eq!((refused.status(), refused.code()), (StatusCode::CONFLICT, "EVENT_STARTED"), "{refused:?}");
    assert_eq!(stored(b, booking.id).await.status, BookingStatus::Confirmed);
    assert_eq!(b.live(&event, "A9").await, Some(SeatStatus::Booked), "the seat is not back on sale");
    let cancels = b
        .publisher
        .sent()
        .into_iter()
        .filter(|(topic, key, _)| topic.ends_with(crate::kafka::BOOKING_CANCELLED) && key == event.id.as_ref());
    assert_eq!(cancels.count(), 0, "no booking.cancelled, so no refund is counted anywhere");
}

/// Past its deadline a booking can be neither paid nor cancelled, and the
/// next buyer of its seat gets it (the lapsed booking is expired on the
/// way, with its booking.expired).
pub async fn a_lapsed_hold_passes_to_the_next_buyer<R: Store, H: Holds>(b: &Backend<R, H>) {
    let (event, late, next, bookings) = (b.event(), fan(), fan(), b.bookings());
    let lapsed = bookings.create(&late, request(&event, &["E1"]), long_ago(&b.config)).await.unwrap();
    assert_eq!(b.live(&event, "E1").await, None, "a lapsed hold reads as free");
    let pay = bookings.pay(&late, lapsed.id, card(APPROVED), &TestCardProvider).await.unwrap_err();
    assert_eq!(pay.status(), StatusCode::CONFLICT);
    assert!(pay.to_string().contains("EXPIRED"), "{pay}");
    let cancel = bookings.cancel(&late, lapsed.id, &TestCardProvider).await.unwrap_err();
    assert_eq!(cancel.status(), StatusCode::CONFLICT);

    let taken = bookings.create(&next, request(&event, &["E1"]), Utc::now()).await.unwrap();
    assert_eq!(stored(b, lapsed.id).await.status, BookingStatus::Expired);
    let owners = b.repo.active_seats(&event.id, &["E1".into()]).await.unwrap();
    assert_eq!(owners.iter().map(|o| o.booking).collect::<Vec<_>>(), vec![taken.id]);
    let expired = b.publisher.sent().into_iter().filter(|(topic, key, payload)| {
        topic.ends_with(crate::kafka::BOOKING_EXPIRED)
            && key == event.id.as_ref()
            && String::from_utf8_lossy(payload).contains(&lapsed.id.to_string())
    });
    assert_eq!(expired.count(), 1);
    // The late fan's own lapsed booking does not block a new one either.
    bookings.create(&late, request(&event, &["E2"]), Utc::now()).await.unwrap();
}

/// Hold cycling: a fan who let a hold lapse cannot take the same seats
/// straight back (for the lapse cool-down; anyone else can), and a second
/// lapse at the event sits them out of it for a while.
pub async fn a_fan_cannot_cycle_holds_to_keep_seats_off_sale<R: Store, H: Holds>(b: &Backend<R, H>) {
    let (event, bot, other, bookings) = (b.event(), fan(), fan(), b.bookings());
    bookings.create(&bot, request(&event, &["B9", "B10"]), long_ago(&b.config)).await.unwrap();
    let again = bookings.create(&bot, request(&event, &["B10"]), Utc::now()).await.unwrap_err();
    let ApiError::TooManyRequests { retry_after } = again else { panic!("{again:?}") };
    let lapsed_ago = std::time::Duration::from_secs(60);
    assert!(retry_after + lapsed_ago >= b.config.lapse_cooldown - std::time::Duration::from_secs(5), "{retry_after:?}");
    assert_eq!(b.live(&event, "B10").await, None, "nothing held for the refused request");
    let taken = bookings.create(&other, request(&event, &["B10"]), Utc::now()).await.unwrap();
    assert_eq!(taken.seats[0].label, "B10", "another fan gets the seat at once");

    // Other seats are still the bot's to try, until a second hold lapses.
    bookings.create(&bot, request(&event, &["C9"]), long_ago(&b.config)).await.unwrap();
    let sat_out = bookings.create(&bot, request(&event, &["D9"]), Utc::now()).await.unwrap_err();
    assert_eq!(sat_out.status(), StatusCode::TOO_MANY_REQUESTS, "{sat_out:?}");
    assert_eq!(b.live(&event, "D9").await, None);
    bookings.create(&fan(), request(&event, &["D9"]), Utc::now()).await.unwrap();
}

/// Another fan's booking does not exist for you: 404 to read, pay or cancel,
/// and it is left as it was.
pub async fn someone_elses_booking_is_not_found<R: Store, H: Holds>(b: &Backend<R, H>) {
    let (event, owner, stranger, bookings) = (b.event(), fan(), fan(), b.bookings());
    let booking = bookings.create(&owner, request(&event, &["F1"]), Utc::now()).await.unwrap();
    assert_eq!(bookings.get(&stranger, booking.id).await.unwrap_err().status(), StatusCode::NOT_FOUND);
    let pay = bookings.pay(&stranger, booking.id, card(APPROVED), &TestCardProvider).await;
    assert_eq!(pay.unwrap_err().status(), StatusCode::NOT_FOUND);
    let cancel = bookings.cancel(&stranger, booking.id, &TestCardProvider).await;
    assert_eq!(cancel.unwrap_err().status(), StatusCode::NOT_FOUND);
    assert_eq!(stored(b, booking.id).await.status, BookingStatus::Pending);
    assert_eq!(bookings.get(&owner, booking.id).await.unwrap().id, booking.id);
}

/// The hold store forgot a hold (a flush, a failover): the next buyer gets
/// past it, the store of record refuses them, and the owner's hold is put
/// back. A seat the store of record gave a buyer is never taken back.
pub async fn a_hold_the_cache_lost_is_restored_not_resold<R: Store, H: Holds>(b: &Backend<R, H>) {
    let (event, owner, rival, bookings) = (b.event(), fan(), fan(), b.bookings());
    let booking = bookings.create(&owner, request(&event, &["G1"]), Utc::now()).await.unwrap();
    b.holds.release(&event.id, &booking.id.to_string(), &["G1".into()]).await.unwrap();
    assert_eq!(b.live(&event, "G1").await, None);
    let refused = bookings.create(&rival, request(&event, &["G1"]), Utc::now()).await.unwrap_err();
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    assert_eq!(b.live(&event, "G1").await, Some(SeatStatus::Held), "the owner's hold is back");
    let paid = bookings.pay(&owner, booking.id, card(APPROVED), &TestCardProvider).await.unwrap();
    assert_eq!(paid.status, BookingStatus::Confirmed);
}

/// A fan holds or owns at most the deployment's limit of seats per event,
/// counting open and paid bookings together.
pub async fn a_fan_may_not_buy_past_the_limit<R: Store, H: Holds>(b: &Backend<R, H>) {
    let (event, fan, bookings) = (b.event(), fan(), b.bookings());
    let limit = b.config.max_seats_per_user_per_event as usize;
    assert!((2..100).contains(&limit), "the case needs a limit below the event's 100 seats");
    let labels: Vec<String> = event.seats().into_iter().map(|seat| seat.label).collect();
    let first: Vec<&str> = labels[..limit - 1].iter().map(String::as_str).collect();
    let booking = bookings.create(&fan, request(&event, &first), Utc::now()).await.unwrap();
    bookings.pay(&fan, booking.id, card(APPROVED), &TestCardProvider).await.unwrap();
    let over: Vec<&str> = labels[limit - 1..limit + 1].iter().map(String::as_str).collect();
    let refused = bookings.create(&fan, request(&event, &over), Utc::now()).await.unwrap_err();
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    assert_eq!(refused.details().expect("details")["seatsOwned"], limit - 1);
    assert_eq!(b.live(&event, over[0]).await, None, "nothing held for the refused request");
    bookings.create(&fan, request(&event, &over[..1]), Utc::now()).await.unwrap();
}

/// The reserver's answers applied to the store: seat.reserved moves PENDING
/// to RESERVED once (a redelivery changes nothing), and seat.reservation_failed
/// fails a paid booking and owes its payment back.
pub async fn reservation_outcomes_apply_once<R: Store, H: Holds>(b: &Backend<R, H>) {
    let (event, fan, other, bookings) = (b.event(), fan(), fan(), b.bookings());
    let reserved = bookings.create(&fan, request(&event, &["H1"]), Utc::now()).await.unwrap();
    assert_eq!(b.repo.mark_reserved(&[reserved.id]).await.unwrap(), 1);
    assert_eq!(b.repo.mark_reserved(&[reserved.id]).await.unwrap(), 0, "a redelivery changes nothing");
    assert_eq!(stored(b, reserved.id).await.status, BookingStatus::Reserved);

    let paid = bookings.create(&other, request(&event, &["H2"]), Utc::now()).await.unwrap();
    bookings.pay(&other, paid.id, card(APPROVED), &TestCardProvider).await.unwrap();
    let failed = b.repo.mark_failed(paid.id, "seats already taken: H2").await.unwrap();
    assert_eq!(failed.booking.as_ref().map(|f| f.status), Some(BookingStatus::Failed));
    let owed = failed.refund.expect("a paid booking's failure owes its payment back");
    assert_eq!(owed.refund.amount.0, 5_000);
    bookings.refund(&TestCardProvider, &owed).await.unwrap();
    let again = b.repo.mark_failed(paid.id, "redelivered").await.unwrap();
    assert!(again.booking.is_none() && again.refund.is_none(), "a failed booking fails once");
    let owners = b.repo.active_seats(&event.id, &["H2".into()]).await.unwrap();
    assert!(owners.is_empty(), "a failed booking holds no seat");
}

/// An Idempotency-Key replays the first answer, refuses a different request
/// under the same key, and another fan's same key is their own.
pub async fn an_idempotency_key_replays_the_first_answer<R: Store, H: Holds>(b: &Backend<R, H>) {
    let (event, fan, other, bookings) = (b.event(), fan(), fan(), b.bookings());
    let lease = std::time::Duration::from_secs(30);
    let create = |who: &Claims, label: &'static str| {
        let (who, bookings, event) = (who.clone(), &bookings, &event);
        move || async move {
            let booking = bookings.create(&who, request(event, &[label]), Utc::now()).await?;
            crate::http::Reply::created(&serde_json::json!({ "id": booking.id }))
        }
    };
    let key = Some("order-1");
    let first = idempotency::once(&b.repo, lease, fan.sub, key, "hash-a", create(&fan, "J1")).await.unwrap();
    let replay = idempotency::once(&b.repo, lease, fan.sub, key, "hash-a", create(&fan, "J2")).await.unwrap();
    assert_eq!(first.body(), replay.body());
    assert_eq!(replay.status(), StatusCode::CREATED);
    assert_eq!(b.live(&event, "J2").await, None, "the replay did not run the request again");
    let other_request = idempotency::once(&b.repo, lease, fan.sub, key, "hash-b", create(&fan, "J2")).await;
    assert_eq!(other_request.unwrap_err().status(), StatusCode::UNPROCESSABLE_ENTITY);
    let theirs = idempotency::once(&b.repo, lease, other.sub, key, "hash-a", create(&other, "J3")).await.unwrap();
    assert_eq!(theirs.status(), StatusCode::CREATED);
    assert_eq!(b.live(&event, "J3").await, Some(SeatStatus::Held));
}

/// Writes one `#[test]` per case of the booking behaviour suite against
/// the backend `$backend().await` returns, each run by `$run` (a function
/// that blocks on a future: the api tests share one runtime with their
/// pools).
#[macro_export]
macro_rules! booking_behaviour_suite {
    ($backend:path, $run:path) => {
        $crate::booking_behaviour_suite!(@cases $backend, $run;
            a_seat_goes_to_one_of_many_buyers,
            one_unpaid_booking_per_fan_and_event,
            paying_confirms_once,
            parallel_payments_charge_once,
            cancelling_frees_the_seats_and_refunds_a_paid_booking,
            no_cancel_or_refund_once_the_event_started,
            a_lapsed_hold_passes_to_the_next_buyer,
            a_fan_cannot_cycle_holds_to_keep_seats_off_sale,
            someone_elses_booking_is_not_found,
            a_hold_the_cache_lost_is_restored_not_resold,
            a_fan_may_not_buy_past_the_limit,
            reservation_outcomes_apply_once,
            an_idempotency_key_replays_the_first_answer
        );
    };
    (@cases $backend:path, $run:path; $($case:ident),+) => {
        $(
            #[test]
            fn $case() {
                $run(async { $crate::bookings::suite::$case(&$backend().await).await });
            }
        )+
    };
}

/// Settings for the memory run: local defaults.
pub fn memory_config() -> Config {
    Config::from_map(&HashMap::new()).expect("local defaults")
}

#[cfg(test)]
mod memory_backend {
    use super::{memory_config, Backend};
    use crate::repo::memory::{MemoryBookings, MemoryHolds};

    async fn memory() -> Backend<MemoryBookings, MemoryHolds> {
        Backend::new(memory_config(), MemoryBookings::default(), MemoryHolds::default())
    }

    fn run<F: std::future::Future>(case: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime").block_on(case)
    }

    crate::booking_behaviour_suite!(memory, run);

    /// The sweeps, which the shared-database run leaves out (they act on
    /// every booking): against the fakes only, and against PostgreSQL in
    /// the api tests of the sweeper.
    mod sweeps {
        use std::time::Duration;

        use chrono::Utc;

        use super::{super::*, memory};
        use crate::repo::booking_ports::{PaymentRecords, ProcessedLog};

        #[tokio::test]
        async fn the_sweep_expires_lapsed_bookings_frees_their_seats_and_says_so() {
            let b = memory().await;
            let (event, late, bookings) = (b.event(), fan(), b.bookings());
            let lapsed = bookings.create(&late, request(&event, &["A1"]), long_ago(&b.config)).await.unwrap();
            let open = bookings.create(&fan(), request(&event, &["A2"]), Utc::now()).await.unwrap();
            assert_eq!(bookings.expire_due().await.unwrap(), 1);
            assert_eq!(stored(&b, lapsed.id).await.status, BookingStatus::Expired);
            assert_eq!(stored(&b, open.id).await.status, BookingStatus::Pending);
            let topics: Vec<String> = b.publisher.sent().into_iter().map(|(topic, _, _)| topic).collect();
            assert_eq!(topics.last().map(String::as_str), Some(crate::kafka::BOOKING_EXPIRED));
            assert_eq!(bookings.expire_due().await.unwrap(), 0, "expired once");
        }

        #[tokio::test]
        async fn unapplied_messages_are_relayed_until_a_consumer_applies_them() {
            let mut b = memory().await;
            b.config.outbox_redeliver_after = Duration::ZERO;
            let (event, fan) = (b.event(), fan());
            b.bookings().create(&fan, request(&event, &["B1"]), Utc::now()).await.unwrap();
            let bookings = b.bookings();
            assert_eq!(bookings.relay_pending().await.unwrap(), 1);
            let queued: Vec<uuid::Uuid> = b.repo.queued().iter().map(|row| row.id).collect();
            b.repo.mark_processed("seat-reserver", &queued).await.unwrap();
            assert_eq!(bookings.relay_pending().await.unwrap(), 0);
        }

        /// The PostgreSQL run of this rule goes through the door itself
        /// (tests/tests/api/tickets.rs): the fake stands in for the check-in.
        #[tokio::test]
        async fn a_booking_whose_ticket_was_used_is_neither_cancelled_nor_refunded() {
            let b = memory().await;
            let (event, fan, bookings) = (b.event(), fan(), b.bookings());
            let booking = bookings.create(&fan, request(&event, &["D1"]), Utc::now()).await.unwrap();
            bookings.pay(&fan, booking.id, card(APPROVED), &TestCardProvider).await.unwrap();
            b.repo.admit(booking.id);
            let refused = bookings.cancel(&fan, booking.id, &TestCardProvider).await.unwrap_err();
            assert_eq!((refused.status(), refused.code()), (StatusCode::CONFLICT, "TICKET_USED"));
            assert_eq!(stored(&b, booking.id).await.status, BookingStatus::Confirmed);
            assert_eq!(bookings.refund_due(&TestCardProvider).await.unwrap(), 0, "nothing owed");
        }

        #[tokio::test]
        async fn a_charge_whose_outcome_was_lost_is_refunded_once() {
            let mut b = memory().await;
            b.config.charge_abandoned_after = Duration::ZERO;
            let (event, fan) = (b.event(), fan());
            let booking = b.bookings().create(&fan, request(&event, &["C1"]), Utc::now()).await.unwrap();
            // The process died while the provider decided.
            let started = b.repo.begin_payment(fan.sub, booking.id, "4242").await.unwrap();
            assert!(matches!(started, crate::repo::booking_ports::PaymentStart::Started { .. }));
            let bookings = b.bookings();
            assert_eq!(bookings.refund_due(&TestCardProvider).await.unwrap(), 1);
            assert_eq!(bookings.refund_due(&TestCardProvider).await.unwrap(), 0, "refunded, not owed");
        }
    }
}
