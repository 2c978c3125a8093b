//! The waiting list of sold-out events against the real stores: joining
//! over HTTP, FIFO offers of seats that come back, a lapsed offer passing
//! to the next fan, a release racing new buyers, and the whole path through
//! the running consumers and the mail server.

use std::time::Duration;

use serde_json::{json, Value};
use shared::domain::event::EventId;
use uuid::Uuid;

use crate::common::*;

/// Calls one of the waiting-list handlers in-process.
async fn waitlist_call(
    state: &State,
    method: &str,
    event: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    call(state, method, &format!("/events/{event}/waitlist"), token, body.as_ref()).await
}

async fn join(state: &State, event: &str, token: &str, seats: u8) -> Value {
    let (status, entry) = waitlist_call(state, "POST", event, Some(token), Some(json!({ "seats": seats }))).await;
    assert_eq!(status, 201, "{entry}");
    entry["data"].clone()
}

async fn entry_of(state: &State, event: &str, token: &str) -> Value {
    let (status, entry) = waitlist_call(state, "GET", event, Some(token), None).await;
    assert_eq!(status, 200, "{entry}");
    entry["data"].clone()
}

/// An event of `seats` seats, every one held by one buyer's bookings (one
/// booking per label group), so its waiting list is open.
async fn sold_out(state: &State, seats: u32, groups: &[&[&str]]) -> (String, Vec<(String, String)>) {
    let event = create_event(state, seats, 30).await;
    let mut bookings = Vec::new();
    for labels in groups {
        let (token, _) = fan(state).await;
        bookings.push((token.clone(), book(state, &token, &event, labels).await));
    }
    (event, bookings)
}

async fn cancel(state: &State, token: &str, booking: &str) {
    let (status, body) = call(state, "PUT", &format!("/bookings/{booking}/cancel"), Some(token), None).await;
    assert_eq!(status, 200, "{body}");
}

/// The seats of `event` in active bookings, by label: (booking, user).
async fn returned(state: &State, event: &str, booking: &str, labels: &[&str]) -> Vec<Uuid> {
    let labels: Vec<String> = labels.iter().map(|l| l.to_string()).collect();
    let booking = Uuid::parse_str(booking).unwrap();
    let event = EventId::parse(event).unwrap();
    state.waitlist().await.unwrap().seats_returned(&event, booking, &labels, chrono::Utc::now()).await.unwrap()
}

fn user_of(token: &str, state: &State) -> Uuid {
    state.jwt.verify(token.trim_start_matches("Bearer ")).expect("our own token").sub
}

#[test]
fn only_a_sold_out_event_has_a_line_and_each_fan_has_one_place_in_it() {
    run(async {
        let state = state().await;
        let (event, _) = sold_out(&state, 10, &[&["A1", "A2", "A3", "A4", "A5"]]).await;
        let (early, _) = fan(&state).await;
        let (status, body) = waitlist_call(&state, "POST", &event, Some(&early), Some(json!({ "seats": 2 }))).await;
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("SEATS_AVAILABLE")), "{body}");
        assert_eq!(body["error"]["details"]["available"], 5);

        sold_out_rest(&state, &event, &["A6", "A7", "A8", "A9", "A10"]).await;
        let (first, second) = (fan(&state).await.0, fan(&state).await.0);
        assert_eq!(join(&state, &event, &first, 2).await["position"], 1);
        let again = waitlist_call(&state, "POST", &event, Some(&first), Some(json!({ "seats": 3 }))).await;
        assert_eq!((again.0, &again.1["data"]["seats"], &again.1["data"]["position"]), (200, &json!(2), &json!(1)));
        // An empty body asks for one seat.
        let (status, body) = waitlist_call(&state, "POST", &event, Some(&second), None).await;
        assert_eq!((status, &body["data"]["seats"], &body["data"]["position"]), (201, &json!(1), &json!(2)), "{body}");

        for (body, field) in [(json!({ "seats": 5 }), "seats"), (json!({ "seats": 0 }), "seats")] {
            let (status, err) = waitlist_call(&state, "POST", &event, Some(&early), Some(body)).await;
            assert_eq!(status, 400, "{err}");
            assert!(err["error"]["details"]["fields"].get(field).is_some(), "{err}");
        }
        assert_eq!(waitlist_call(&state, "POST", &event, None, None).await.0, 401);
        assert_eq!(waitlist_call(&state, "GET", "no-such-event", Some(&early), None).await.0, 404);
        let (status, body) = waitlist_call(&state, "POST", "no-such-event", Some(&early), None).await;
        assert_eq!(status, 404, "{body}");
        let (status, body) = waitlist_call(&state, "GET", &event, Some(&early), None).await;
        assert_eq!((status, body["error"]["code"].as_str()), (404, Some("NOT_ON_WAITLIST")));

        // The first fan leaves: the second moves up; leaving twice is a 404.
        let (status, left) = waitlist_call(&state, "DELETE", &event, Some(&first), None).await;
        assert_eq!((status, left["data"]["state"].as_str()), (200, Some("LEFT")), "{left}");
        assert_eq!(entry_of(&state, &event, &second).await["position"], 1);
        assert_eq!(entry_of(&state, &event, &first).await["state"], "LEFT");
        assert_eq!(waitlist_call(&state, "DELETE", &event, Some(&first), None).await.0, 404);
        // Joining again is a new place at the back.
        assert_eq!(join(&state, &event, &first, 1).await["position"], 2);
    });
}

/// Books the rest of `event`'s seats for a new fan.
async fn sold_out_rest(state: &State, event: &str, labels: &[&str]) -> (String, String) {
    let (token, _) = fan(state).await;
    let booking = book(state, &token, event, labels).await;
    (token, booking)
}

#[test]
fn two_hundred_parallel_joins_of_one_fan_make_one_entry() {
    run(async {
        let state = state().await;
        let (event, _) = sold_out(&state, 10, &[&["A1", "A2", "A3", "A4", "A5", "A6", "A7", "A8", "A9", "A10"]]).await;
        let (token, _) = fan(&state).await;
        let joins = (0..200).map(|_| waitlist_call(&state, "POST", &event, Some(&token), Some(json!({ "seats": 1 }))));
        let statuses: Vec<u16> = futures::future::join_all(joins).await.into_iter().map(|(s, _)| s).collect();
        assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
        assert!(statuses.iter().all(|s| *s == 201 || *s == 200), "{statuses:?}");
        let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM bookings_demo.waitlist WHERE event_id = $1")
            .bind(&event)
            .fetch_one(state.pg())
            .await
            .unwrap();
        assert_eq!(rows, 1);
    });
}

#[test]
fn returned_seats_go_to_the_first_fan_in_line_whose_request_fits() {
    run(async {
        // Own topics: the suite's running offerer must not act on these cancels.
        let state = isolated(|_| {}).await;
        let (event, holders) = sold_out(&state, 4, &[&["A1", "A2", "A3"], &["A4"]]).await;
        let (pair, single, late) = (fan(&state).await.0, fan(&state).await.0, fan(&state).await.0);
        join(&state, &event, &pair, 2).await;
        join(&state, &event, &single, 1).await;
        join(&state, &event, &late, 1).await;

        // One seat back: the pair does not fit and keeps its place; the
        // single fan behind them is offered it.
        let (token, booking) = &holders[1];
        cancel(&state, token, booking).await;
        let offers = returned(&state, &event, booking, &["A4"]).await;
        assert_eq!(offers.len(), 1);
        let offered = entry_of(&state, &event, &single).await;
        assert_eq!((offered["state"].as_str(), offered["bookingStatus"].as_str()), (Some("OFFERED"), Some("PENDING")));
        assert_eq!(offered["bookingId"], offers[0].to_string());
        assert_eq!(entry_of(&state, &event, &pair).await["position"], 1);
        // The offered seats are the fan's own booking, held in PostgreSQL
        // and in Redis (so the seat map and the next buyer see them taken).
        assert_eq!(active_seats(&state, &event).await["A4"], (offers[0], user_of(&single, &state)));
        let board = redis_board(&state, &event).await;
        assert!(board.get("A4").is_some_and(|hold| hold.contains(&offers[0].to_string())), "{board:?}");

        // Three back: the pair gets two side by side, the late fan the third.
        let (token, booking) = &holders[0];
        cancel(&state, token, booking).await;
        let offers = returned(&state, &event, booking, &["A1", "A2", "A3"]).await;
        assert_eq!(offers.len(), 2);
        let seats = active_seats(&state, &event).await;
        assert_eq!(seats["A1"].1, user_of(&pair, &state));
        assert_eq!(seats["A2"].1, user_of(&pair, &state));
        assert_eq!(seats["A3"].1, user_of(&late, &state));

        // A redelivery of either cancel offers nothing more.
        assert!(returned(&state, &event, booking, &["A1", "A2", "A3"]).await.is_empty());
        assert!(returned(&state, &event, &holders[1].1, &["A4"]).await.is_empty());
        let offered: i64 =
            sqlx::query_scalar("SELECT count(*) FROM bookings_demo.waitlist WHERE event_id = $1 AND state = 'OFFERED'")
                .bind(&event)
                .fetch_one(state.pg())
                .await
                .unwrap();
        assert_eq!(offered, 3);

        // An offer is declined by cancelling it, not by leaving the line.
        let (status, body) = waitlist_call(&state, "DELETE", &event, Some(&late), None).await;
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("OFFER_PENDING")), "{body}");
    });
}

#[test]
fn an_offer_that_lapses_unpaid_passes_to_the_next_fan() {
    run(async {
        gateway_url().await; // its sweeper and consumers run this test's lapse
        let state = isolated(|c| c.waitlist_claim = Duration::from_secs(1)).await;
        let (event, holders) = sold_out(&state, 1, &[&["A1"]]).await;
        let (first, second) = (fan(&state).await.0, fan(&state).await.0);
        join(&state, &event, &first, 1).await;
        join(&state, &event, &second, 1).await;
        let (token, booking) = &holders[0];
        cancel(&state, token, booking).await;
        let first_offer = returned(&state, &event, booking, &["A1"]).await;
        assert_eq!(first_offer.len(), 1);
        assert_eq!(entry_of(&state, &event, &second).await["position"], 1);

        // The claim window closes; the gateway's sweeper (every 5 s here)
        // expires the offer like any unpaid hold, and its booking.expired
        // reaches the gateway's offerer, which makes the next offer. This
        // test does not sweep itself: a sweep is global, and from this
        // state's private topics it would carry other tests' lapses where
        // no consumer reads them. Should some other test's sweep take this
        // lapse the same way, handing the seat back here makes the offer.
        tokio::time::sleep(Duration::from_millis(1200)).await;
        eventually(20, "the lapsed offer expired by a sweep", || async {
            let status: String = sqlx::query_scalar("SELECT status FROM bookings_demo.bookings WHERE id = $1")
                .bind(first_offer[0])
                .fetch_one(state.pg())
                .await
                .unwrap();
            status == "EXPIRED"
        })
        .await;
        let made_here = returned(&state, &event, &first_offer[0].to_string(), &["A1"]).await;
        assert!(made_here.len() <= 1, "{made_here:?}");
        eventually(15, "the next fan is offered the seat", || async {
            entry_of(&state, &event, &second).await["state"] == "OFFERED"
        })
        .await;
        let offered = entry_of(&state, &event, &second).await;
        let next_offer = Uuid::parse_str(offered["bookingId"].as_str().unwrap()).unwrap();
        assert!(made_here.is_empty() || made_here == [next_offer], "one offer, not two: {made_here:?} {offered}");

        let lapsed = entry_of(&state, &event, &first).await;
        assert_eq!((lapsed["state"].as_str(), lapsed["bookingStatus"].as_str()), (Some("PASSED"), Some("EXPIRED")));
        assert_eq!(active_seats(&state, &event).await["A1"], (next_offer, user_of(&second, &state)));
        // Paying claims it.
        pay(&state, &second, &next_offer.to_string()).await;
        assert_eq!(entry_of(&state, &event, &second).await["bookingStatus"], "CONFIRMED");
    });
}

#[test]
fn seats_released_while_buyers_race_for_them_go_to_one_taker_each_and_no_seat_is_offered_twice() {
    run(async {
        let state = isolated(|_| {}).await;
        let labels = ["A1", "A2", "A3", "A4", "A5", "A6", "A7", "A8", "A9", "A10"];
        let (event, holders) = sold_out(&state, 10, &[&labels[..6], &labels[6..]]).await;
        let mut waiting = Vec::new();
        for _ in 0..8 {
            let (token, _) = fan(&state).await;
            join(&state, &event, &token, 1).await;
            waiting.push(token);
        }
        let mut buyers = Vec::new();
        for _ in 0..30 {
            buyers.push(fan(&state).await.0);
        }

        // The cancel, thirty buyers each after one of the first three
        // released seats, and five offerer runs for the same release (a
        // redelivery and concurrent batches), all at once. The other three
        // seats nobody races for: they must go to the waiting fans.
        let (token, booking) = &holders[0];
        let released: Vec<&str> = labels[..6].to_vec();
        let (contested, uncontested) = released.split_at(3);
        let cancel_then_offer = async {
            cancel(&state, token, booking).await;
            let runs = (0..5).map(|_| returned(&state, &event, booking, &released));
            futures::future::join_all(runs).await.concat()
        };
        let buys = buyers.iter().enumerate().map(|(i, buyer)| {
            let seat = format!("{event}_{}", contested[i % contested.len()]);
            let body = json!({ "eventId": event, "seatIds": [seat] });
            let state = &state;
            async move { call(state, "POST", "/bookings", Some(buyer), Some(&body)).await }
        });
        let (offers, bought) = tokio::join!(cancel_then_offer, futures::future::join_all(buys));
        let bought: Vec<String> = bought
            .iter()
            .filter(|(s, _)| *s == 201)
            .map(|(_, b)| b["data"]["id"].as_str().unwrap().to_owned())
            .collect();

        // PostgreSQL: every released seat is in one active booking at most
        // (active_seats() panics otherwise), of a buyer who got a 201 or of an offer.
        let seats = active_seats(&state, &event).await;
        let offered_ids: std::collections::HashSet<Uuid> = offers.iter().copied().collect();
        assert_eq!(offered_ids.len(), offers.len(), "an offer was made twice: {offers:?}");
        for label in &released {
            if let Some((booking, _)) = seats.get(*label) {
                let by_buyer = bought.contains(&booking.to_string());
                let by_offer = offered_ids.contains(booking);
                assert!(by_buyer ^ by_offer, "{label}: held by {booking}, buyer {by_buyer}, offer {by_offer}");
            }
        }
        for label in uncontested {
            let (booking, _) = seats.get(*label).unwrap_or_else(|| panic!("{label} was offered to nobody"));
            assert!(offered_ids.contains(booking), "{label} went to {booking}, not to an offer");
        }
        // Every offer holds one seat for one waiting fan, and the entries say so.
        let entries: Vec<(String, Option<Uuid>)> =
            sqlx::query_as("SELECT state, booking_id FROM bookings_demo.waitlist WHERE event_id = $1")
                .bind(&event)
                .fetch_all(state.pg())
                .await
                .unwrap();
        let offered_entries: Vec<Uuid> =
            entries.iter().filter(|(s, _)| s == "OFFERED").filter_map(|(_, b)| *b).collect();
        assert_eq!(offered_entries.len(), offers.len(), "{entries:?}");
        assert!(offered_entries.iter().all(|b| offered_ids.contains(b)));
        assert_eq!(offers.len() + bought.len(), seats.iter().filter(|(l, _)| released.contains(&l.as_str())).count());
        // Redis agrees with PostgreSQL on who holds each released seat.
        let board = redis_board(&state, &event).await;
        for (label, (booking, _)) in seats.iter().filter(|(l, _)| released.contains(&l.as_str())) {
            let held = board.get(label).map(String::as_str).unwrap_or("");
            assert!(held.contains(&booking.to_string()), "{label}: redis has {held:?}, postgres {booking}");
        }
    });
}

#[test]
fn a_cancelled_seat_reaches_the_waiting_fan_by_mail_through_the_running_consumers() {
    run(async {
        let app = TestApp::new().await;
        let state = state().await;
        let (event, holders) = sold_out(&state, 2, &[&["A1", "A2"]]).await;
        let (token, email) = fan(&state).await;
        let list = format!("/events/{event}/waitlist");
        assert_eq!(app.call("POST", &list, Some(&token), Some(&json!({ "seats": 2 }))).await.0, 201);

        let (holder, booking) = &holders[0];
        assert_eq!(app.cancel(holder, booking).await.0, 200);

        let entry_now = || async { app.call("GET", &list, Some(&token), None).await.1["data"].clone() };
        eventually(30, "the offer reaches the waiting fan", || async { entry_now().await["state"] == "OFFERED" }).await;
        let offer = entry_now().await;
        let inbox = inbox_settles_at(&email, 1).await;
        let text = inbox[0]["text"].as_str().unwrap();
        let offered_booking = offer["bookingId"].as_str().unwrap();
        assert!(inbox[0]["subject"].as_str().unwrap().contains("held for you"), "{}", inbox[0]["subject"]);
        for expected in ["Seat A1", "Seat A2", offered_booking, "waiting list"] {
            assert!(text.contains(expected), "{expected} missing from:\n{text}");
        }

        assert_eq!(app.pay(&token, offered_booking, "4242 4242 4242 4242", None).await.0, 200);
        let inbox = inbox_settles_at(&email, 2).await;
        assert!(inbox.iter().any(|m| m["subject"].as_str().unwrap().starts_with("Your tickets")), "tickets mailed");
    });
}

/// An offer obeys the rules POST /bookings applies to the same fan: a fan
/// at their seat limit is passed over (keeping their place) and the seats
/// go to the next fan in line. Private topics: the suite's running offerer
/// (with the default limit) must not make the offer first.
#[test]
fn an_offer_never_takes_a_fan_past_their_seat_limit() {
    run(async {
        let state = isolated(|c| c.max_seats_per_user_per_event = 2).await;
        let event = create_event(&state, 4, 30).await;
        let (greedy, _) = fan(&state).await;
        // Paid, so no open booking of theirs stands in the offer's way: only the limit can.
        let owned = book(&state, &greedy, &event, &["A1", "A2"]).await;
        let card = json!({ "paymentMethod": { "type": "card", "cardNumber": "4242424242424242" } });
        let (status, paid) = call(&state, "POST", &format!("/bookings/{owned}/pay"), Some(&greedy), Some(&card)).await;
        assert_eq!(status, 200, "{paid}");
        let (holder, _) = fan(&state).await;
        let held = book(&state, &holder, &event, &["A3", "A4"]).await;
        join(&state, &event, &greedy, 2).await;
        let (patient, _) = fan(&state).await;
        join(&state, &event, &patient, 2).await;

        cancel(&state, &holder, &held).await;
        let offers = returned(&state, &event, &held, &["A3", "A4"]).await;
        assert_eq!(offers.len(), 1, "{offers:?}");
        use shared::repo::booking_ports::BookingRepo;
        let offered = state.booking_repo().find(offers[0]).await.unwrap().expect("the offer's booking");
        assert_eq!(offered.user_id, user_of(&patient, &state), "the fan at the limit was passed over");
        let greedy_entry = entry_of(&state, &event, &greedy).await;
        assert_eq!((greedy_entry["state"].as_str(), greedy_entry["position"].as_u64()), (Some("WAITING"), Some(1)));
    });
}
