//! The on-sale waiting room against real Redis and PostgreSQL. The queue
//! store's tests drive its clock themselves (every script takes `now` from
//! the caller), so rates and lapses are checked to the slot; the API tests
//! run on the real clock and poll up to generous deadlines.

use std::collections::{BTreeSet, HashMap};

use serde_json::{json, Value};
use shared::{
    domain::{
        event::EventId,
        onsale::{PlaceState, QueueSnapshot, QueueToken},
        user::Role,
    },
    repo::{redis_queue::RedisQueue, LineRules, QueueStore, SeatHolds},
};
use uuid::Uuid;

use crate::common::*;

const OPENS: i64 = 1_900_000_000_000;

fn rules(now_ms: i64, per_minute: u32, pass_ttl_ms: i64, total_seats: u32) -> LineRules {
    LineRules { now_ms, opens_at_ms: OPENS, per_minute, pass_ttl_ms, total_seats }
}

async fn queue() -> RedisQueue {
    RedisQueue::new(state().await.redis().await.expect("redis"))
}

async fn join_at(queue: &RedisQueue, rules: &LineRules, event: &EventId, user: Uuid) -> (QueueToken, QueueSnapshot) {
    let draw = Uuid::new_v4().as_u64_pair().0;
    queue.join(rules, user, &QueueToken::generate(event), draw).await.expect("join")
}

/// Joins `fans` users one after another at `now_ms`; their tokens in join order.
async fn line_up(queue: &RedisQueue, rules: &LineRules, event: &EventId, fans: usize) -> Vec<(Uuid, QueueToken)> {
    let mut line = Vec::new();
    for _ in 0..fans {
        let user = Uuid::new_v4();
        line.push((user, join_at(queue, rules, event, user).await.0));
    }
    line
}

async fn place_of(queue: &RedisQueue, rules: &LineRules, user: Uuid, token: &QueueToken) -> QueueSnapshot {
    queue.status(rules, user, token).await.expect("status").expect("the fan's own place")
}

#[test]
fn the_pre_queue_is_drawn_at_random_at_the_opening() {
    run(async {
        let queue = queue().await;
        let fans = 200;
        let event = EventId::generate();
        let before = rules(OPENS - 60_000, 600, 60_000, 1000);
        let line = line_up(&queue, &before, &event, fans).await;
        let early = place_of(&queue, &before, line[0].0, &line[0].1).await;
        assert_eq!((early.state, early.place), (PlaceState::PreQueue, None), "no place before the opening");

        let after = rules(OPENS + 1, 600, 60_000, 1000);
        let mut places = Vec::new();
        for (user, token) in &line {
            places.push(place_of(&queue, &after, *user, token).await.place.expect("drawn at the opening"));
        }
        let drawn: BTreeSet<u64> = places.iter().copied().collect();
        assert_eq!(drawn, (0..fans as u64).collect(), "the places are a permutation of the line");
        // Spearman's rank correlation between arrival and place: near 0 for a
        // fair draw (|rho| > 0.3 has odds far below one in a million at n=200).
        let n = fans as f64;
        let d2: f64 = places.iter().enumerate().map(|(i, &p)| (i as f64 - p as f64).powi(2)).sum();
        let rho = 1.0 - 6.0 * d2 / (n * (n * n - 1.0));
        assert!(rho.abs() < 0.3, "arriving early gave an edge: rho = {rho:.3}");
        let first_fixed = places.iter().take(10).enumerate().filter(|(i, &p)| *i as u64 == p).count();
        assert!(first_fixed < 5, "the first arrivals kept their order: {:?}", &places[..10]);
    })
}

#[test]
fn after_the_opening_fans_are_placed_in_arrival_order_behind_the_pre_queue() {
    run(async {
        let queue = queue().await;
        let event = EventId::generate();
        line_up(&queue, &rules(OPENS - 1, 60, 60_000, 1000), &event, 5).await;
        let after = rules(OPENS + 10, 60, 60_000, 1000);
        let late = line_up(&queue, &after, &event, 20).await;
        for (i, (user, token)) in late.iter().enumerate() {
            assert_eq!(place_of(&queue, &after, *user, token).await.place, Some(5 + i as u64));
        }
    })
}

#[test]
fn one_place_per_account_under_200_parallel_joins() {
    run(async {
        let queue = queue().await;
        let event = EventId::generate();
        let now = rules(OPENS + 10, 60, 60_000, 1000);
        let fan = Uuid::new_v4();
        let same = futures::future::join_all((0..200).map(|_| join_at(&queue, &now, &event, fan))).await;
        let tokens: BTreeSet<String> = same.iter().map(|(t, _)| t.to_string()).collect();
        assert_eq!(tokens.len(), 1, "one account, one place");
        assert_eq!(same[0].1.in_line, 1);

        let others = futures::future::join_all((0..200).map(|_| join_at(&queue, &now, &event, Uuid::new_v4()))).await;
        let places: BTreeSet<u64> = others.iter().map(|(_, s)| s.place.unwrap()).collect();
        assert_eq!(places, (1..=200).collect(), "200 accounts, 200 distinct places behind the first");
    })
}

#[test]
fn admission_follows_the_rate_and_lapsed_passes_hand_their_slot_on() {
    run(async {
        let queue = queue().await;
        let event = EventId::generate();
        // 600 a minute: one at the opening, then one every 100 ms; passes last 1 s.
        let at = |ms: i64| rules(OPENS + ms, 600, 1_000, 1000);
        let line = line_up(&queue, &rules(OPENS - 1, 600, 1_000, 1000), &event, 100).await;
        let probe = |ms: i64| {
            let queue = queue.clone();
            let event = event.clone();
            async move { queue.line(&at(ms), &event).await.unwrap() }
        };
        assert_eq!(probe(0).await.admitted, 1, "the first fan at the opening");
        assert_eq!(probe(450).await.admitted, 5);
        assert_eq!(probe(999).await.admitted, 10);

        // A pass lasts 1 s from the move of the line that admitted it: place 0
        // from 0 ms, places 1–4 from 450 ms, 5–9 from 999 ms. Place 3 is spent.
        assert!(queue.spend_pass(&at(999), &event, 3).await.unwrap());
        let at_1300 = probe(1300).await.admitted;
        assert_eq!(at_1300, 10 + 4 + 1, "4 slots by the rate, 1 for place 0's lapsed pass");
        assert!(queue.spend_pass(&at(1300), &event, 3).await.unwrap(), "a spent pass stays good until its expiry");
        assert!(!queue.spend_pass(&at(1300), &event, 0).await.unwrap(), "a lapsed pass cannot be spent");

        let mut ranked: HashMap<u64, (Uuid, QueueToken)> = HashMap::new();
        for (user, token) in &line {
            ranked.insert(place_of(&queue, &at(1300), *user, token).await.place.unwrap(), (*user, token.clone()));
        }
        let state_at = |place: u64, ms: i64| {
            let (user, token) = ranked[&place].clone();
            let queue = queue.clone();
            async move { place_of(&queue, &at(ms), user, &token).await.state }
        };
        assert_eq!(state_at(0, 1300).await, PlaceState::Lapsed);
        assert!(matches!(state_at(3, 1300).await, PlaceState::Admitted { .. }));
        assert!(matches!(state_at(at_1300 - 1, 1300).await, PlaceState::Admitted { .. }));
        assert_eq!(state_at(at_1300, 1300).await, PlaceState::Waiting);
        // At 1.5 s: 2 slots by the rate, and 3 for places 1, 2 and 4 (place 3
        // was spent, so its slot is not handed on).
        assert_eq!(probe(1500).await.admitted, at_1300 + 2 + 3);
        assert!(!queue.spend_pass(&at(1500), &event, 3).await.unwrap(), "spent, then expired");

        // A fan whose turn lapsed joins again at the back.
        let (lapsed_user, lapsed_token) = ranked[&0].clone();
        let (again, snap) = join_at(&queue, &at(1300), &event, lapsed_user).await;
        assert_ne!(again, lapsed_token);
        assert_eq!(snap.place, Some(100));
    })
}

#[test]
fn slots_that_find_nobody_lapse_so_a_late_crowd_still_enters_at_the_rate() {
    run(async {
        let queue = queue().await;
        let event = EventId::generate();
        let at = |ms: i64| rules(OPENS + ms, 60, 60_000, 1000);
        assert_eq!(queue.line(&at(0), &event).await.unwrap().admitted, 0, "nobody in line");
        // An hour later 50 fans arrive at once: one slot a second, not 3,600.
        line_up(&queue, &at(3_600_000), &event, 50).await;
        assert!(queue.line(&at(3_600_000), &event).await.unwrap().admitted <= 1);
        assert_eq!(queue.line(&at(3_610_000), &event).await.unwrap().admitted, 10);
    })
}

#[test]
fn a_sell_out_stops_admission_and_returning_seats_resume_it() {
    run(async {
        let state = state().await;
        let queue = queue().await;
        let board = state.seat_board().await.unwrap();
        let event = EventId::generate();
        let now = || chrono::Utc::now().timestamp_millis();
        let seats = 4;
        let labels: Vec<String> = (1..=seats).map(|n| format!("A{n}")).collect();
        let live = |ms: i64| LineRules {
            now_ms: ms,
            opens_at_ms: ms - 10,
            per_minute: 600,
            pass_ttl_ms: 60_000,
            total_seats: seats,
        };
        line_up(&queue, &live(now()), &event, 30).await;
        // Every seat held for 2 s: the line notices within its 1 s cache.
        let hold_until = now() + 2_000;
        assert!(board.hold(&event, &Uuid::new_v4().to_string(), &labels, hold_until).await.unwrap().is_empty());
        eventually(5, "the line to see the sell-out", || {
            let queue = queue.clone();
            let event = event.clone();
            async move { queue.line(&live(now()), &event).await.unwrap().sold_out }
        })
        .await;
        let frozen = queue.line(&live(now()), &event).await.unwrap().admitted;
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let still = queue.line(&live(now()), &event).await.unwrap();
        if still.sold_out {
            assert_eq!(still.admitted, frozen, "nobody is admitted while every seat is taken");
        }
        // The holds lapse: the seats count as free again and admission resumes.
        eventually(10, "admission to resume once the holds lapse", || {
            let queue = queue.clone();
            let event = event.clone();
            async move {
                let line = queue.line(&live(now()), &event).await.unwrap();
                !line.sold_out && line.admitted > frozen
            }
        })
        .await;
    })
}

// ---------------------------------------------------------------- the API

async fn token_for_role(role: Role) -> String {
    let state = state().await;
    token_for(&state, Uuid::new_v4(), role)
}

/// `method path` on the suite's state: status, body and Retry-After.
async fn request(method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value, Option<String>) {
    let state = state().await;
    let headers: Vec<(&str, &str)> = token.map(|token| ("authorization", token)).into_iter().collect();
    let response = send(&state, api_request(method, path, body.as_ref(), &headers)).await;
    let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
    let (status, body) = read(response);
    (status, body, retry_after)
}

async fn set_on_sale(event: &str, sale: Value) -> (u16, Value) {
    let admin = token_for_role(Role::Admin).await;
    let (status, body, _) = request("PUT", &format!("/events/{event}/onsale"), Some(&admin), Some(sale)).await;
    (status, body)
}

async fn join(event: &str, fan: &str) -> Value {
    let (status, body, retry) = request("POST", &format!("/events/{}/queue", event), Some(fan), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        retry.as_deref().map(str::parse::<u64>).transpose().unwrap(),
        body["data"]["retryAfterSeconds"].as_u64()
    );
    body["data"].clone()
}

async fn status_of(token: &str, fan: &str) -> (u16, Value) {
    let (status, body, _) = request("GET", &format!("/queue/{}", token), Some(fan), None).await;
    (status, body)
}

/// Polls the fan's place until it is admitted (20 s at most); the pass.
async fn pass_for(token: &str, fan: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (_, body) = status_of(token, fan).await;
        if let Some(pass) = body["data"]["admissionPass"].as_str() {
            return pass.to_owned();
        }
        assert!(std::time::Instant::now() < deadline, "never admitted: {body}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

fn opened(seconds_ago: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::seconds(seconds_ago)).to_rfc3339()
}

async fn book(fan: &str, event: &str, seats: &[&str], pass: Option<&str>) -> (u16, Value) {
    let state = state().await;
    let seat_ids: Vec<String> = seats.iter().map(|s| format!("{event}_{s}")).collect();
    let mut body = json!({ "eventId": event, "seatIds": seat_ids });
    if let Some(pass) = pass {
        body["admissionPass"] = pass.into();
    }
    call(&state, "POST", "/bookings", Some(fan), Some(&body)).await
}

#[test]
fn an_on_sale_is_admin_only_and_validated_by_field() {
    run(async {
        let state = state().await;
        let event = create_event(&state, 20, 30).await;
        let fan = token_for_role(Role::User).await;
        let sale = json!({ "opensAt": opened(0), "queueEnabled": true, "admissionPerMinute": 60 });
        let (status, body, _) =
            request("PUT", &format!("/events/{}/onsale", &event), Some(&fan), Some(sale.clone())).await;
        assert_eq!((status, body["error"]["code"].as_str()), (403, Some("FORBIDDEN")));
        let (status, _, _) = request("PUT", &format!("/events/{}/onsale", &event), None, Some(sale.clone())).await;
        assert_eq!(status, 401);
        assert_eq!(set_on_sale("no-such-event", sale).await.0, 404);

        let (status, body) = set_on_sale(
            &event,
            json!({ "opensAt": "soon", "queueEnabled": true, "admissionPerMinute": 0, "passTtlSeconds": 1, "maxSeatsPerUser": 500 }),
        )
        .await;
        assert_eq!(status, 400, "{body}");
        let fields = &body["error"]["details"]["fields"];
        for field in ["opensAt", "admissionPerMinute", "passTtlSeconds", "maxSeatsPerUser"] {
            assert!(fields.get(field).is_some(), "{field}: {body}");
        }
        let (status, body) = set_on_sale(&event, json!({ "opensAt": opened(0), "surprise": 1 })).await;
        assert_eq!(status, 400, "unknown fields are refused: {body}");
        let (status, body) = set_on_sale(&event, json!({ "opensAt": opened(0), "queueEnabled": "yes" })).await;
        assert_eq!((status, body["error"]["details"]["fields"].get("queueEnabled").is_some()), (400, true), "{body}");
        // Nothing was stored: the event still has no waiting room.
        let (status, _, _) = request("GET", &format!("/events/{}/queue", &event), None, None).await;
        assert_eq!(status, 409);
    })
}

#[test]
fn an_event_without_a_queue_books_as_before_and_has_no_line() {
    run(async {
        let state = state().await;
        let event = create_event(&state, 20, 30).await;
        let fan = token_for_role(Role::User).await;
        let (status, body, _) = request("POST", &format!("/events/{}/queue", &event), Some(&fan), None).await;
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("NO_ON_SALE")), "{body}");
        assert_eq!(book(&fan, &event, &["A1"], None).await.0, 201);
        // An id that names no event is not "no on-sale" but no event at all.
        let (status, body, _) = request("GET", "/events/no-such-event/queue", None, None).await;
        assert_eq!((status, body["error"]["code"].as_str()), (404, Some("NOT_FOUND")), "{body}");

        // An on-sale without a queue: joining is a 409, booking needs no pass.
        let event = create_event(&state, 20, 30).await;
        assert_eq!(set_on_sale(&event, json!({ "opensAt": opened(5) })).await.0, 200);
        let (status, _, _) = request("POST", &format!("/events/{}/queue", &event), Some(&fan), None).await;
        assert_eq!(status, 409);
        assert_eq!(book(&fan, &event, &["A1"], None).await.0, 201);
    })
}

#[test]
fn before_the_opening_bookings_are_refused_and_fans_wait_in_the_pre_queue() {
    run(async {
        let state = state().await;
        let event = create_event(&state, 20, 30).await;
        let opens = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
        let (status, body) =
            set_on_sale(&event, json!({ "opensAt": opens, "queueEnabled": true, "admissionPerMinute": 100 })).await;
        assert_eq!(status, 200, "{body}");
        let fan = token_for_role(Role::User).await;
        let (status, body) = book(&fan, &event, &["A1"], None).await;
        assert_eq!((status, body["error"]["code"].as_str()), (403, Some("SALE_NOT_OPEN")), "{body}");
        let place = join(&event, &fan).await;
        assert_eq!(place["state"], "preQueue");
        assert_eq!(place["position"], Value::Null);
        assert_eq!(place["retryAfterSeconds"], 30);
        assert_eq!(join(&event, &fan).await["token"], place["token"], "joining again keeps the place");
    })
}

#[test]
fn a_queued_booking_needs_the_fans_own_unexpired_pass() {
    run(async {
        let state = state().await;
        let event = create_event(&state, 40, 30).await;
        let other_event = create_event(&state, 40, 30).await;
        for id in [&event, &other_event] {
            let sale =
                json!({ "opensAt": opened(2), "queueEnabled": true, "admissionPerMinute": 6000, "maxSeatsPerUser": 2 });
            assert_eq!(set_on_sale(id, sale).await.0, 200);
        }
        let (fan, stranger) = (token_for_role(Role::User).await, token_for_role(Role::User).await);

        let (status, body) = book(&fan, &event, &["A1"], None).await;
        assert_eq!((status, body["error"]["code"].as_str()), (403, Some("ADMISSION_PASS_REQUIRED")), "{body}");

        let place = join(&event, &fan).await;
        let token = place["token"].as_str().unwrap().to_owned();
        let pass = pass_for(&token, &fan).await;
        let (status, _) = status_of(&token, &stranger).await;
        assert_eq!(status, 404, "someone else's place is not found");

        let (status, body) = book(&stranger, &event, &["A1"], Some(&pass)).await;
        assert_eq!((status, body["error"]["code"].as_str()), (403, Some("ADMISSION_PASS_INVALID")), "{body}");
        let (status, body) = book(&fan, &other_event, &["A1"], Some(&pass)).await;
        assert_eq!((status, body["error"]["code"].as_str()), (403, Some("ADMISSION_PASS_INVALID")), "{body}");
        // The same claims with another signature.
        let (signed, signature) = pass.rsplit_once('.').unwrap();
        let first = if signature.starts_with('A') { 'B' } else { 'A' };
        let forged = format!("{signed}.{first}{}", &signature[1..]);
        let (status, body) = book(&fan, &event, &["A1"], Some(&forged)).await;
        assert_eq!((status, body["error"]["code"].as_str()), (403, Some("ADMISSION_PASS_INVALID")), "{body}");
        let login_token = fan.trim_start_matches("Bearer ");
        let (status, _) = book(&fan, &event, &["A1"], Some(login_token)).await;
        assert_eq!(status, 403, "a login token is not a pass");

        // The on-sale's own limit (2), not the deployment's (10).
        let (status, body) = book(&fan, &event, &["A1", "A2", "A3"], Some(&pass)).await;
        assert_eq!(status, 409, "{body}");
        let (status, body) = book(&fan, &event, &["A1", "A2"], Some(&pass)).await;
        assert_eq!(status, 201, "{body}");

        let lapsed_at = chrono::Utc::now().timestamp_millis() - 5_000;
        let claims = state.passes.claims(Uuid::new_v4(), &EventId::parse(&event).unwrap(), 0, 0, lapsed_at);
        let expired = state.passes.sign(&claims).unwrap();
        let (status, body) = book(&fan, &event, &["A3"], Some(&expired)).await;
        assert_eq!((status, body["error"]["code"].as_str()), (403, Some("ADMISSION_PASS_EXPIRED")), "{body}");
    })
}

#[test]
fn waiting_fans_are_told_of_the_sell_out_and_admitted_again_when_seats_return() {
    run(async {
        let state = state().await;
        let event = create_event(&state, 10, 30).await;
        // One fan a minute: the first is admitted at once, the rest wait.
        let sale =
            json!({ "opensAt": opened(1), "queueEnabled": true, "admissionPerMinute": 60, "maxSeatsPerUser": 10 });
        assert_eq!(set_on_sale(&event, sale).await.0, 200);
        let buyer = token_for_role(Role::User).await;
        let buyer_place = join(&event, &buyer).await;
        let pass = pass_for(buyer_place["token"].as_str().unwrap(), &buyer).await;
        let waiting: Vec<(String, String)> = {
            let mut fans = Vec::new();
            for _ in 0..5 {
                let fan = token_for_role(Role::User).await;
                let token = join(&event, &fan).await["token"].as_str().unwrap().to_owned();
                fans.push((fan, token));
            }
            fans
        };
        let all: Vec<String> = (1..=10).map(|n| format!("A{n}")).collect();
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        let (status, booking) = book(&buyer, &event, &all, Some(&pass)).await;
        assert_eq!(status, 201, "{booking}");

        let started = std::time::Instant::now();
        for (fan, token) in &waiting {
            eventually(5, "a waiting fan to be told of the sell-out", || async {
                let (_, body) = status_of(token, fan).await;
                body["data"]["state"] == "soldOut" || body["data"]["state"] == "admitted"
            })
            .await;
        }
        let told = started.elapsed();
        let (_, last) = status_of(&waiting[4].1, &waiting[4].0).await;
        assert_eq!(last["data"]["state"], "soldOut", "{last}");
        assert!(told < std::time::Duration::from_secs(5), "told in {told:?}");

        // The buyer cancels: the seats return and the line moves again.
        let id = booking["data"]["id"].as_str().unwrap();
        let (status, _) = call(&state, "PUT", &format!("/bookings/{id}/cancel"), Some(&buyer), None).await;
        assert_eq!(status, 200);
        let (fan, token) = &waiting[0];
        let pass = pass_for(token, fan).await;
        assert_eq!(book(fan, &event, &["A5"], Some(&pass)).await.0, 201, "admitted after the seats came back");
    })
}

#[test]
fn the_line_is_public_and_cacheable_for_a_second() {
    run(async {
        let state = state().await;
        let event = create_event(&state, 10, 30).await;
        let sale = json!({ "opensAt": opened(1), "queueEnabled": true, "admissionPerMinute": 1 });
        assert_eq!(set_on_sale(&event, sale).await.0, 200);
        for _ in 0..3 {
            join(&event, &token_for_role(Role::User).await).await;
        }
        let response = send(&state, api_request("GET", &format!("/events/{event}/queue"), None, &[])).await;
        assert_eq!(response.headers()["cache-control"], "public, max-age=1");
        let (status, body) = read(response);
        assert_eq!(status, 200, "{body}");
        // One a minute, and the slot at the opening found nobody in line.
        assert_eq!((body["data"]["inLine"].as_u64(), body["data"]["admittedThrough"].as_u64()), (Some(3), Some(0)));
    })
}

#[test]
fn the_whole_path_through_the_gateway() {
    run(async {
        let state = state().await;
        let app = TestApp::new().await;
        let event = create_event(&state, 20, 30).await;
        let admin = token_for_role(Role::Admin).await;
        let sale = json!({ "opensAt": opened(1), "queueEnabled": true, "admissionPerMinute": 6000 });
        assert_eq!(app.call("PUT", &format!("/events/{event}/onsale"), Some(&admin), Some(&sale)).await.0, 200);
        let fan = token_for_role(Role::User).await;
        let response =
            app.request("POST", &format!("/events/{event}/queue")).header("authorization", &fan).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers().contains_key("retry-after"));
        assert_eq!(response.headers()["cache-control"], "private, no-store");
        let place: Value = response.json().await.unwrap();
        let token = place["data"]["token"].as_str().unwrap();
        let mut pass = None;
        for _ in 0..100 {
            let (_, status) = app.call("GET", &format!("/queue/{token}"), Some(&fan), None).await;
            if let Some(p) = status["data"]["admissionPass"].as_str() {
                pass = Some(p.to_owned());
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let pass = pass.expect("admitted within 10 s at 100 a second");
        let booking = json!({ "eventId": event, "seatIds": [format!("{event}_A1")], "admissionPass": pass });
        assert_eq!(app.call("POST", "/bookings", Some(&fan), Some(&booking)).await.0, 201);
        assert_eq!(app.call("GET", "/queue/not-a-token", Some(&fan), None).await.0, 404);
    })
}

/// The waiting list is no side door around the waiting room: while fans
/// are in its line, seats that come back stay on sale for them (the queue
/// admits them as seats return) instead of going to a waiting list someone
/// joined without queueing, and joining the waiting list is refused.
#[test]
fn returned_seats_go_to_the_waiting_room_before_the_waiting_list() {
    run(async {
        let state = state().await;
        let event = create_event(&state, 2, 30).await;
        let holder = token_for_role(Role::User).await;
        let (status, held) = book(&holder, &event, &["A1", "A2"], None).await;
        assert_eq!(status, 201, "{held}");
        let held = held["data"]["id"].as_str().unwrap().to_owned();
        // Sold out with no on-sale yet: a fan gets on the waiting list.
        let side_door = fan(&state).await.0;
        let waitlist = format!("/events/{event}/waitlist");
        let (status, body) = call(&state, "POST", &waitlist, Some(&side_door), Some(&json!({ "seats": 2 }))).await;
        assert_eq!(status, 201, "{body}");

        let sale = json!({ "opensAt": opened(1), "queueEnabled": true, "admissionPerMinute": 1 });
        assert_eq!(set_on_sale(&event, sale).await.0, 200);
        for _ in 0..2 {
            join(&event, &token_for_role(Role::User).await).await;
        }
        let late = fan(&state).await.0;
        let (status, body) = call(&state, "POST", &waitlist, Some(&late), Some(&json!({ "seats": 1 }))).await;
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("QUEUE_FIRST")), "{body}");

        let (status, body) = call(&state, "PUT", &format!("/bookings/{held}/cancel"), Some(&holder), None).await;
        assert_eq!(status, 200, "{body}");
        let labels = ["A1".to_owned(), "A2".to_owned()];
        let offers = state
            .waitlist()
            .await
            .unwrap()
            .seats_returned(
                &EventId::parse(&event).unwrap(),
                Uuid::parse_str(&held).unwrap(),
                &labels,
                chrono::Utc::now(),
            )
            .await
            .unwrap();
        assert!(offers.is_empty(), "offered past the queue: {offers:?}");
        let (_, entry) = call(&state, "GET", &waitlist, Some(&side_door), None).await;
        assert_eq!(entry["data"]["state"], "WAITING", "{entry}");
    })
}

/// A new event is off sale until its organiser opens it: bots cannot book
/// in the gap between the announcement and the on-sale. The create call
/// may carry the opening instead.
#[test]
fn a_new_event_is_off_sale_until_its_organiser_opens_it() {
    run(async {
        let state = state().await;
        let admin = token_for_role(Role::Admin).await;
        let body = |opens: Option<String>| {
            json!({
                "name": format!("Announced {}", Uuid::new_v4()), "venue": "Hall",
                "date": (chrono::Utc::now() + chrono::Duration::days(20)).to_rfc3339(),
                "totalSeats": 10, "price": 30, "description": "announced today, on sale Friday", "category": "test",
                "salesOpenAt": opens
            })
        };
        let (status, created) = call(&state, "POST", "/events", Some(&admin), Some(&body(None))).await;
        assert_eq!(status, 201, "{created}");
        let event = created["data"]["id"].as_str().unwrap().to_owned();
        let bot = token_for_role(Role::User).await;
        let (status, refused) = book(&bot, &event, &["A1"], None).await;
        assert_eq!((status, refused["error"]["code"].as_str()), (403, Some("SALE_NOT_OPEN")), "{refused}");
        assert_eq!(set_on_sale(&event, json!({ "opensAt": opened(1) })).await.0, 200);
        assert_eq!(book(&bot, &event, &["A1"], None).await.0, 201, "open once the organiser set the on-sale");

        let later = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
        let (_, created) = call(&state, "POST", "/events", Some(&admin), Some(&body(Some(later)))).await;
        let friday = created["data"]["id"].as_str().unwrap().to_owned();
        assert!(created["data"]["salesOpenAt"].is_string(), "{created}");
        let (status, refused) = book(&bot, &friday, &["A1"], None).await;
        assert_eq!((status, refused["error"]["code"].as_str()), (403, Some("SALE_NOT_OPEN")), "{refused}");
        let after_the_show = (chrono::Utc::now() + chrono::Duration::days(21)).to_rfc3339();
        let (status, invalid) = call(&state, "POST", "/events", Some(&admin), Some(&body(Some(after_the_show)))).await;
        assert_eq!(status, 400, "{invalid}");
        assert!(invalid["error"]["details"]["fields"]["salesOpenAt"].is_string(), "{invalid}");
    })
}

/// A bot holding every seat does not starve the line: while all seats are
/// held the line keeps the slots it earns (one per held seat at most), and
/// the moment the holds lapse it lets that many fans in, instead of
/// starting again at the rate as if the sell-out had been real.
#[test]
fn slots_earned_while_seats_are_only_held_are_spent_when_the_holds_lapse() {
    run(async {
        let state = state().await;
        let (queue, board) = (queue().await, state.seat_board().await.unwrap());
        let event = EventId::generate();
        let seats = 4;
        let minute = 60_000;
        let at = |ms: i64| rules(OPENS + ms, 1, minute, seats);
        line_up(&queue, &at(-1_000), &event, 10).await;
        let labels: Vec<String> = (1..=seats).map(|n| format!("A{n}")).collect();
        // Held for the first five minutes of the sale, which earn six slots
        // at one a minute (the first at the opening).
        let held_until = OPENS + 5 * minute + 1;
        assert!(board.hold(&event, &Uuid::new_v4().to_string(), &labels, held_until).await.unwrap().is_empty());
        let during = queue.line(&at(5 * minute), &event).await.unwrap();
        assert!(during.sold_out && during.admitted == 0, "{during:?}");
        // The line caches the seat count for a real second.
        tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
        let after = queue.line(&at(5 * minute + 2), &event).await.unwrap();
        assert!(!after.sold_out, "{after:?}");
        assert_eq!(after.admitted, u64::from(seats), "one kept slot per held seat, spent as the holds lapse");
    })
}
