//! Box-office limits: seats per user and event (open and paid together), a
//! cool-down on taking back seats one just cancelled, and requests per client
//! address on POST /bookings.

use serde_json::json;
use shared::domain::user::Role;
use uuid::Uuid;

use crate::common::{api_request, call, from_ip, read, run, send, state, state_with, token_for, State};

async fn book_from(state: &State, ip: &str, token: &str, event: &str, labels: &[&str]) -> (u16, serde_json::Value) {
    let seats: Vec<String> = labels.iter().map(|l| format!("{event}_{l}")).collect();
    let body = json!({ "eventId": event, "seatIds": seats });
    let req = from_ip(api_request("POST", "/bookings", Some(&body), &[("authorization", token)]), ip);
    read(send(state, req).await)
}

async fn book(state: &State, token: &str, event: &str, labels: &[&str]) -> (u16, serde_json::Value) {
    book_from(state, "203.0.113.7", token, event, labels).await
}

async fn act(state: &State, token: &str, id: &str, pay: bool) -> u16 {
    let card = json!({ "paymentMethod": { "type": "card", "cardNumber": "4242424242424242" } });
    let (method, path, body) = if pay {
        ("POST", format!("/bookings/{id}/pay"), Some(card))
    } else {
        ("PUT", format!("/bookings/{id}/cancel"), None)
    };
    call(state, method, &path, Some(token), body.as_ref()).await.0
}

/// An event created with its own per-user limit.
async fn event_with_limit(state: &State, limit: u32) -> String {
    let admin = token_for(state, Uuid::new_v4(), Role::Admin);
    let body = json!({
        "name": format!("Limited {}", Uuid::new_v4()), "venue": "Small Hall",
        "date": (chrono::Utc::now() + chrono::Duration::days(9)).to_rfc3339(),
        "totalSeats": 20, "price": 30, "description": "A limited event", "category": "test",
        "maxSeatsPerUser": limit, "salesOpenAt": chrono::Utc::now().to_rfc3339()
    });
    let (status, created) = call(state, "POST", "/events", Some(&admin), Some(&body)).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["data"]["maxSeatsPerUser"], limit);
    created["data"]["id"].as_str().unwrap().to_owned()
}

#[test]
fn paid_and_open_seats_together_stay_within_the_events_limit() {
    run(async {
        let state = state().await;
        let event = event_with_limit(&state, 3).await;
        let token = token_for(&state, Uuid::new_v4(), Role::User);
        let (status, first) = book(&state, &token, &event, &["A1", "A2"]).await;
        assert_eq!(status, 201, "{first}");
        assert_eq!(act(&state, &token, first["data"]["id"].as_str().unwrap(), true).await, 200);
        let (status, refused) = book(&state, &token, &event, &["A3", "A4"]).await;
        assert_eq!(status, 409, "{refused}");
        assert_eq!(refused["error"]["details"], json!({ "limit": 3, "seatsOwned": 2 }));
        let (status, last) = book(&state, &token, &event, &["A3"]).await;
        assert_eq!(status, 201, "one more fits: {last}");
        let (status, _) = book(&state, &token, &event, &["A5"]).await;
        assert_eq!(status, 409);
        // Someone else is not affected.
        assert_eq!(book(&state, &token_for(&state, Uuid::new_v4(), Role::User), &event, &["A5"]).await.0, 201);
    });
}

#[test]
fn the_deployment_default_applies_to_events_without_their_own_limit() {
    run(async {
        let state = state_with(|c| c.max_seats_per_user_per_event = 2).await;
        let event = crate::common::create_event(&state, 10, 5).await;
        let token = token_for(&state, Uuid::new_v4(), Role::User);
        assert_eq!(book(&state, &token, &event, &["A1", "A2", "A3"]).await.0, 409);
        assert_eq!(book(&state, &token, &event, &["A1", "A2"]).await.0, 201);
    });
}

/// Hold → cancel → hold of the same seats would keep them off sale for
/// good; the canceller waits out the cool-down, everyone else may buy them.
#[test]
fn seats_one_just_cancelled_cannot_be_taken_back_during_the_cool_down() {
    run(async {
        let state = state().await;
        let event = crate::common::create_event(&state, 10, 5).await;
        let token = token_for(&state, Uuid::new_v4(), Role::User);
        let (_, booked) = book(&state, &token, &event, &["A1", "A2"]).await;
        assert_eq!(act(&state, &token, booked["data"]["id"].as_str().unwrap(), false).await, 200);

        let seats: Vec<String> = ["A2"].iter().map(|l| format!("{event}_{l}")).collect();
        let body = json!({ "eventId": event, "seatIds": seats });
        let response = send(&state, api_request("POST", "/bookings", Some(&body), &[("authorization", &token)])).await;
        assert_eq!(response.status(), 429);
        let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        let cooldown = state.config.rebook_cooldown.as_secs();
        assert!((cooldown - 5..=cooldown).contains(&retry_after), "{retry_after} of {cooldown}");
        assert_eq!(book(&state, &token, &event, &["A3"]).await.0, 201, "other seats are fine");
        let other = token_for(&state, Uuid::new_v4(), Role::User);
        assert_eq!(book(&state, &other, &event, &["A1"]).await.0, 201, "another buyer may take them");
    });
}

#[test]
fn bookings_from_one_address_are_rate_limited_with_retry_after() {
    run(async {
        let state = state_with(|c| c.bookings_per_ip_per_minute = 3).await;
        let event = crate::common::create_event(&state, 10, 5).await;
        let n = Uuid::new_v4().as_u128();
        // Distinct /64s: addresses of one /64 count as one client.
        let (ip, other_ip) = (format!("2001:db8:b:{:x}::1", n as u16), format!("2001:db8:c:{:x}::1", n as u16));
        for label in ["A1", "A2", "A3"] {
            let token = token_for(&state, Uuid::new_v4(), Role::User);
            assert_eq!(book_from(&state, &ip, &token, &event, &[label]).await.0, 201);
        }
        let token = token_for(&state, Uuid::new_v4(), Role::User);
        let (status, body) = book_from(&state, &ip, &token, &event, &["A4"]).await;
        assert_eq!((status, body["error"]["code"].as_str()), (429, Some("TOO_MANY_REQUESTS")), "{body}");
        let held: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM bookings_demo.booking_seats WHERE event_id = $1 AND seat_label = 'A4' AND active",
        )
        .bind(&event)
        .fetch_one(state.pg())
        .await
        .unwrap();
        assert_eq!(held, 0, "a refused request holds nothing");
        assert_eq!(book_from(&state, &other_ip, &token, &event, &["A4"]).await.0, 201);
    });
}

async fn pay_from(state: &State, ip: &str, token: &str, id: &str, card: &str, key: &str) -> (u16, serde_json::Value) {
    let body = json!({ "paymentMethod": { "type": "card", "cardNumber": card } });
    let headers = [("authorization", token), ("idempotency-key", key)];
    let req = from_ip(api_request("POST", &format!("/bookings/{id}/pay"), Some(&body), &headers), ip);
    read(send(state, req).await)
}

/// Card testing: a stream of declined cards on one booking, each with a new
/// Idempotency-Key, is cut off after the booking's budget (429 with
/// Retry-After, before the provider is asked), and the address's budget
/// stops the same fraudster moving on to another account's booking.
#[test]
fn declined_cards_are_limited_per_booking_and_per_address() {
    run(async {
        let state = state_with(|c| {
            c.declines_per_booking = 3;
            c.declines_per_fan_per_hour = 10;
            c.declines_per_ip_per_hour = 5;
        })
        .await;
        let event = crate::common::create_event(&state, 10, 5).await;
        let ip = format!("203.0.113.{}", Uuid::new_v4().as_u128() % 250);
        let tester = token_for(&state, Uuid::new_v4(), Role::User);
        let (_, booked) = book_from(&state, &ip, &tester, &event, &["A1"]).await;
        let id = booked["data"]["id"].as_str().unwrap().to_owned();
        let mut statuses = Vec::new();
        for n in 0..8 {
            let key = Uuid::new_v4().to_string();
            let card = ["4000000000000002", "4000000000009995"][n % 2];
            statuses.push(pay_from(&state, &ip, &tester, &id, card, &key).await.0);
        }
        assert_eq!(statuses, [402, 402, 402, 429, 429, 429, 429, 429], "the booking's budget is 3 declines");
        let (status, refused) = pay_from(&state, &ip, &tester, &id, "4242424242424242", "good-card").await;
        assert_eq!(status, 429, "the budget holds for a good card too: {refused}");

        // Another account from the same address: two more declines spend the address's budget of 5.
        let second = token_for(&state, Uuid::new_v4(), Role::User);
        let (_, other) = book_from(&state, &ip, &second, &event, &["A2"]).await;
        let other_id = other["data"]["id"].as_str().unwrap().to_owned();
        for _ in 0..2 {
            assert_eq!(
                pay_from(&state, &ip, &second, &other_id, "4000000000000002", &Uuid::new_v4().to_string()).await.0,
                402
            );
        }
        assert_eq!(pay_from(&state, &ip, &second, &other_id, "4000000000000002", "third").await.0, 429);
        let payments: i64 =
            sqlx::query_scalar("SELECT count(*) FROM bookings_demo.payments WHERE booking_id = ANY($1::uuid[])")
                .bind(vec![Uuid::parse_str(&id).unwrap(), Uuid::parse_str(&other_id).unwrap()])
                .fetch_one(state.pg())
                .await
                .unwrap();
        assert_eq!(payments, 5, "a refused attempt never reaches the provider");
        // An honest fan elsewhere pays as usual.
        let fan = token_for(&state, Uuid::new_v4(), Role::User);
        let (_, theirs) = book_from(&state, "198.51.100.23", &fan, &event, &["A3"]).await;
        let theirs = theirs["data"]["id"].as_str().unwrap().to_owned();
        assert_eq!(pay_from(&state, "198.51.100.23", &fan, &theirs, "4242424242424242", "k").await.0, 200);
    });
}

/// Idempotency-Keys replay for a day; the sweeper then forgets them, so a
/// key per attempt does not grow the table for ever.
#[test]
fn the_sweeper_forgets_idempotency_keys_past_their_replay_window() {
    use shared::repo::booking_ports::IdempotencyStore;
    run(async {
        let state = state().await;
        let repo = state.booking_repo();
        let (old_user, fresh_user) = (Uuid::new_v4(), Uuid::new_v4());
        repo.claim_key(old_user, "old", "h", std::time::Duration::from_secs(60)).await.unwrap();
        repo.claim_key(fresh_user, "fresh", "h", std::time::Duration::from_secs(60)).await.unwrap();
        sqlx::query(
            "UPDATE bookings_demo.idempotency_keys SET created_at = now() - interval '25 hours' WHERE user_id = $1",
        )
        .bind(old_user)
        .execute(state.pg())
        .await
        .unwrap();
        // The sweeper's step (the whole sweep would act on every test's rows).
        let forgotten = repo.forget_keys(state.config.idempotency_ttl, 10_000).await.unwrap();
        assert!(forgotten >= 1, "{forgotten}");
        let left: Vec<Uuid> =
            sqlx::query_scalar("SELECT user_id FROM bookings_demo.idempotency_keys WHERE user_id = ANY($1::uuid[])")
                .bind(vec![old_user, fresh_user])
                .fetch_all(state.pg())
                .await
                .unwrap();
        assert_eq!(left, vec![fresh_user]);
    });
}
