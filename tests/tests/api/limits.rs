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
        "maxSeatsPerUser": limit
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
        let (ip, other_ip) = (format!("2001:db8::b:{:x}", n as u16), format!("2001:db8::c:{:x}", n as u16));
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
