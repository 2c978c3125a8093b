use std::{collections::HashMap, sync::Arc};

use futures::future::join_all;
use serde_json::{json, Value};
use shared::{domain::user::Role, repo::booking_ports::OutboxStore};
use uuid::Uuid;

use crate::common::{
    active_seats, create_event, eventually, gateway_url, not_expired, redis_board, run, seat_docs, send, state,
    state_with, token_for, State, TestApp,
};

fn user(state: &State) -> String {
    token_for(state, Uuid::new_v4(), Role::User)
}

async fn booking_status(state: &State, id: &str) -> String {
    sqlx::query_scalar("SELECT status FROM bookings_demo.bookings WHERE id = $1")
        .bind(Uuid::parse_str(id).unwrap())
        .fetch_one(state.pg())
        .await
        .unwrap()
}

/// The three stores agree: every seat PostgreSQL gives to an open or paid
/// booking is owned by that booking in Redis and (once the consumers catch
/// up) in Mongo, and no store gives a seat to anyone else.
async fn assert_stores_agree(state: &State, event: &str) {
    let owners: HashMap<String, String> = active_seats(state, event)
        .await
        .into_iter()
        .map(|(label, (booking, _))| (label, booking.to_string()))
        .collect();
    let board = redis_board(state, event).await;
    let now = chrono::Utc::now().timestamp_millis();
    for (label, value) in &board {
        if shared::repo::redis_seats::parse_status(value, now).is_some() {
            let owner = value.split('|').nth(1).unwrap();
            assert_eq!(owners.get(label).map(String::as_str), Some(owner), "redis gives {label} to {owner}");
        }
    }
    for (label, owner) in &owners {
        assert!(board.get(label).is_some_and(|v| v.contains(owner.as_str())), "redis lost the hold of {label}");
    }
    eventually(20, "the mongo read model matches postgres", || async {
        let seats = seat_docs(state, event).await;
        seats.iter().all(|seat| seat.booking_id.as_ref() == owners.get(&seat.label))
    })
    .await;
}

#[test]
fn the_original_flow_register_browse_book_list_cancel() {
    run(async {
        let api = TestApp::new().await;
        let email = crate::common::unique_email("flow");
        let (status, _) = api
            .call(
                "POST",
                "/auth/register",
                None,
                Some(&json!({ "email": email, "name": "Flo", "password": "flow-pass-1" })),
            )
            .await;
        assert_eq!(status, 202);
        let (_, login) =
            api.call("POST", "/auth/login", None, Some(&json!({ "email": email, "password": "flow-pass-1" }))).await;
        let token = format!("Bearer {}", login["data"]["token"].as_str().unwrap());
        let (status, events) = api.call("GET", "/events", None, None).await;
        assert_eq!(status, 200);
        assert!(events["data"]["total"].as_u64().unwrap() >= 3);
        let event = create_event(&*state().await, 20, 10).await;
        let (_, seats) = api.call("GET", &format!("/events/{event}/seats?status=available"), None, None).await;
        assert_eq!(seats["data"]["seats"].as_array().unwrap().len(), 20);

        let (status, booked) = api.book(&token, &event, &["A1", "A2"]).await;
        assert_eq!(status, 201, "{booked}");
        let booking = booked["data"]["id"].as_str().unwrap().to_owned();
        assert_eq!(booked["data"]["status"], "PENDING");
        assert_eq!(booked["data"]["totalCents"], 6000);
        assert_eq!(booked["data"]["seats"].as_array().unwrap().len(), 2);

        let (_, list) = api.call("GET", "/bookings", Some(&token), None).await;
        assert_eq!(list["data"]["total"], 1);
        assert_eq!(list["data"]["bookings"][0]["id"], booking.as_str());
        // booking.requested → seat.reserved → RESERVED, through Kafka.
        eventually(10, "the booking becomes RESERVED", || async {
            api.call("GET", &format!("/bookings/{booking}"), Some(&token), None).await.1["data"]["status"] == "RESERVED"
        })
        .await;
        let (status, cancelled) = api.cancel(&token, &booking).await;
        assert_eq!((status, cancelled["data"]["status"].as_str()), (200, Some("CANCELLED")));
        let (status, again) = api.cancel(&token, &booking).await;
        assert_eq!(
            (status, again["data"]["status"].as_str()),
            (200, Some("CANCELLED")),
            "cancelling twice is harmless"
        );
        let (_, seats) = api.call("GET", &format!("/events/{event}/seats?status=available"), None, None).await;
        assert_eq!(seats["data"]["seats"].as_array().unwrap().len(), 20);
        assert_stores_agree(&*state().await, &event).await;
    });
}

#[test]
fn a_hold_is_on_the_seat_map_within_a_second_and_gone_after_cancel() {
    run(async {
        let state = state().await;
        let api = TestApp::new().await;
        let event = create_event(&state, 10, 5).await;
        let token = user(&state);
        let (status, booked) = api.book(&token, &event, &["A3"]).await;
        assert_eq!(status, 201);
        let held_at = tokio::time::Instant::now();
        let seat_status = || async {
            let (_, map) = api.call("GET", &format!("/events/{event}/seats"), None, None).await;
            map["data"]["seats"][2]["status"].as_str().unwrap().to_owned()
        };
        eventually(10, "A3 reads as held", || async { seat_status().await == "held" }).await;
        assert!(held_at.elapsed() < std::time::Duration::from_secs(1), "hold took {:?}", held_at.elapsed());
        let id = booked["data"]["id"].as_str().unwrap();
        api.cancel(&token, id).await;
        let released_at = tokio::time::Instant::now();
        eventually(10, "A3 reads as available", || async { seat_status().await == "available" }).await;
        assert!(released_at.elapsed() < std::time::Duration::from_secs(1));
    });
}

#[test]
fn two_hundred_users_racing_for_ten_seats_never_oversell() {
    run(async {
        let state = state().await;
        let api = Arc::new(TestApp::new().await);
        let event = create_event(&state, 10, 5).await;
        let labels: Vec<String> = (1..=10).map(|n| format!("A{n}")).collect();
        let attempts = (0..200).map(|i| {
            let api = api.clone();
            let token = user(&state);
            let event = event.clone();
            // Overlapping pairs, so most requests conflict with several others.
            let pair = [labels[i % 10].clone(), labels[(i * 7 + 3) % 10].clone()];
            tokio::spawn(async move {
                let seats: Vec<&str> = if pair[0] == pair[1] { vec![&pair[0]] } else { vec![&pair[0], &pair[1]] };
                api.book(&token, &event, &seats).await
            })
        });
        let results: Vec<(u16, Value)> = join_all(attempts).await.into_iter().map(Result::unwrap).collect();
        let statuses: Vec<u16> = results.iter().map(|(s, _)| *s).collect();
        assert!(statuses.iter().all(|s| *s == 201 || *s == 409), "only 201 or 409: {statuses:?}");
        let won: Vec<String> = results
            .iter()
            .filter(|(s, _)| *s == 201)
            .flat_map(|(_, b)| {
                b["data"]["seats"].as_array().unwrap().iter().map(|s| s["label"].as_str().unwrap().to_owned())
            })
            .collect();
        let distinct: std::collections::HashSet<&String> = won.iter().collect();
        assert_eq!(won.len(), distinct.len(), "a seat was sold twice: {won:?}");
        assert!(!won.is_empty());
        assert_eq!(active_seats(&state, &event).await.len(), won.len());
        assert_stores_agree(&state, &event).await;
    });
}

#[test]
fn fifty_parallel_bookings_by_one_user_leave_one_open_booking() {
    run(async {
        let state = state().await;
        let api = Arc::new(TestApp::new().await);
        let event = create_event(&state, 60, 5).await;
        let token = user(&state);
        let attempts = (1..=50).map(|n| {
            let (api, token, event) = (api.clone(), token.clone(), event.clone());
            let seat = format!("{}{}", ["A", "B", "C", "D", "E"][n % 5], n % 10 + 1);
            tokio::spawn(async move { api.book(&token, &event, &[&seat]).await.0 })
        });
        let statuses: Vec<u16> = join_all(attempts).await.into_iter().map(Result::unwrap).collect();
        assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
        assert!(statuses.iter().all(|s| *s == 201 || *s == 409), "{statuses:?}");
        assert_eq!(active_seats(&state, &event).await.len(), 1);
        assert_stores_agree(&state, &event).await;
    });
}

#[test]
fn twenty_parallel_pays_take_one_payment() {
    run(async {
        let state = state().await;
        let api = Arc::new(TestApp::new().await);
        let event = create_event(&state, 10, 5).await;
        let token = user(&state);
        let (_, booked) = api.book(&token, &event, &["A1", "A2"]).await;
        let id = booked["data"]["id"].as_str().unwrap().to_owned();
        let pays = (0..20).map(|_| {
            let (api, token, id) = (api.clone(), token.clone(), id.clone());
            tokio::spawn(async move { api.pay(&token, &id, "4242424242424242", None).await.0 })
        });
        let statuses: Vec<u16> = join_all(pays).await.into_iter().map(Result::unwrap).collect();
        assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 19, "{statuses:?}");
        let payments: i64 = sqlx::query_scalar("SELECT count(*) FROM bookings_demo.payments WHERE booking_id = $1")
            .bind(Uuid::parse_str(&id).unwrap())
            .fetch_one(state.pg())
            .await
            .unwrap();
        assert_eq!(payments, 1);
        assert_eq!(booking_status(&state, &id).await, "CONFIRMED");
        eventually(10, "mongo shows the seats booked", || async {
            seat_docs(&state, &event)
                .await
                .iter()
                .filter(|s| serde_json::to_value(s.status).unwrap() == "booked")
                .count()
                == 2
        })
        .await;
        assert_stores_agree(&state, &event).await;
    });
}

#[test]
fn idempotency_keys_replay_the_first_answer_and_refuse_other_bodies() {
    run(async {
        let state = state().await;
        let api = TestApp::new().await;
        let event = create_event(&state, 10, 5).await;
        let token = user(&state);
        let body = json!({ "eventId": event, "seatIds": [format!("{event}_A1")] });
        let key = Uuid::new_v4().to_string();
        let first = api.call_with_key("POST", "/bookings", Some(&token), Some(&body), &key).await;
        let retry = api.call_with_key("POST", "/bookings", Some(&token), Some(&body), &key).await;
        assert_eq!(first.0, 201);
        assert_eq!(first, retry, "a retry returns the first result");
        let other = json!({ "eventId": event, "seatIds": [format!("{event}_A2")] });
        assert_eq!(api.call_with_key("POST", "/bookings", Some(&token), Some(&other), &key).await.0, 422);
        let id = first.1["data"]["id"].as_str().unwrap();
        let pay_key = Uuid::new_v4().to_string();
        let paid = api.pay(&token, id, "4242424242424242", Some(&pay_key)).await;
        assert_eq!(paid.0, 200);
        assert_eq!(api.pay(&token, id, "4242424242424242", Some(&pay_key)).await, paid);
        assert_eq!(api.pay(&token, id, "4000000000000002", Some(&pay_key)).await.0, 422);
    });
}

#[test]
fn declined_and_unavailable_cards_leave_the_booking_payable() {
    run(async {
        let state = state().await;
        let api = TestApp::new().await;
        let event = create_event(&state, 10, 5).await;
        let token = user(&state);
        let (_, booked) = api.book(&token, &event, &["A7"]).await;
        let id = booked["data"]["id"].as_str().unwrap();
        let (status, declined) = api.pay(&token, id, "4000000000000002", None).await;
        assert_eq!((status, declined["error"]["code"].as_str()), (402, Some("PAYMENT_DECLINED")));
        assert_eq!(api.pay(&token, id, "4000000000009995", None).await.0, 402);
        assert_eq!(api.pay(&token, id, "4000000000000119", None).await.0, 503);
        assert_eq!(api.pay(&token, id, "1234", None).await.0, 400);
        assert_eq!(api.pay(&token, id, "4242424242424242", None).await.0, 200);
        let (status, body) = api.pay(&token, id, "4242424242424242", None).await;
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("CONFLICT")));
    });
}

#[test]
fn cancelling_a_paid_booking_records_a_refund() {
    run(async {
        let state = state().await;
        let api = TestApp::new().await;
        let event = create_event(&state, 10, 5).await;
        let token = user(&state);
        let (_, booked) = api.book(&token, &event, &["A8"]).await;
        let id = booked["data"]["id"].as_str().unwrap();
        assert_eq!(api.pay(&token, id, "4242424242424242", None).await.0, 200);
        let (status, _) = api.cancel(&token, id).await;
        assert_eq!(status, 200);
        let refunded: String = sqlx::query_scalar("SELECT status FROM bookings_demo.payments WHERE booking_id = $1")
            .bind(Uuid::parse_str(id).unwrap())
            .fetch_one(state.pg())
            .await
            .unwrap();
        assert_eq!(refunded, "REFUNDED");
        assert_eq!(api.pay(&token, id, "4242424242424242", None).await.0, 409, "a cancelled booking cannot be paid");
        // The seat is free again for someone else.
        assert_eq!(api.book(&user(&state), &event, &["A8"]).await.0, 201);
    });
}

#[test]
fn other_users_bookings_are_404_on_get_cancel_and_pay() {
    run(async {
        let state = state().await;
        let api = TestApp::new().await;
        let event = create_event(&state, 10, 5).await;
        let owner = user(&state);
        let (_, booked) = api.book(&owner, &event, &["A5"]).await;
        let id = booked["data"]["id"].as_str().unwrap();
        let intruder = user(&state);
        assert_eq!(api.call("GET", &format!("/bookings/{id}"), Some(&intruder), None).await.0, 404);
        assert_eq!(api.cancel(&intruder, id).await.0, 404);
        assert_eq!(api.pay(&intruder, id, "4242424242424242", None).await.0, 404);
        let (_, list) = api.call("GET", "/bookings", Some(&intruder), None).await;
        assert_eq!(list["data"]["total"], 0);
        assert_eq!(booking_status(&state, id).await, "PENDING", "nothing changed");
        assert_eq!(api.call("GET", &format!("/bookings/{id}"), None, None).await.0, 401);
        assert_eq!(api.call("GET", "/bookings/not-a-uuid", Some(&owner), None).await.0, 400);
    });
}

#[test]
fn bad_booking_requests_are_4xx_and_change_nothing() {
    run(async {
        let state = state().await;
        let api = TestApp::new().await;
        let event = create_event(&state, 10, 5).await;
        let other = create_event(&state, 10, 5).await;
        let token = user(&state);
        let cases = [
            json!({ "eventId": event, "seatIds": [] }),
            json!({ "eventId": event, "seatIds": [format!("{event}_A1"), format!("{event}_A1")] }),
            json!({ "eventId": event, "seatIds": (1..=11).map(|n| format!("{event}_A{n}")).collect::<Vec<_>>() }),
            json!({ "eventId": event, "seatIds": [format!("{other}_A1")] }),
            json!({ "eventId": event, "seatIds": [format!("{event}_Z99")] }),
            json!({ "eventId": { "$gt": "" }, "seatIds": [format!("{event}_A1")] }),
            json!({ "eventId": event, "seatIds": [{ "$ne": null }] }),
            json!({ "eventId": event, "seatIds": format!("{event}_A1") }),
            json!({ "seatIds": [format!("{event}_A1")] }),
            json!({ "eventId": event, "seatIds": [format!("{event}_A1")], "total": 0 }),
        ];
        for (i, body) in cases.into_iter().enumerate() {
            let (status, response) = api.call("POST", "/bookings", Some(&token), Some(&body)).await;
            if i == 9 {
                // Extra fields are ignored; the server sets the price.
                assert_eq!((status, response["data"]["totalCents"].as_i64()), (201, Some(3000)), "{response}");
                continue;
            }
            assert_eq!(status, 400, "{body} → {response}");
            assert_eq!(response["success"], false);
        }
        let (status, _) = api
            .call(
                "POST",
                "/bookings",
                Some(&token),
                Some(&json!({ "eventId": "no-such-event", "seatIds": ["no-such-event_A1"] })),
            )
            .await;
        assert_eq!(status, 404);
        assert_eq!(active_seats(&state, &other).await.len(), 0);
    });
}

#[test]
fn held_seats_are_a_409_naming_them() {
    run(async {
        let state = state().await;
        let api = TestApp::new().await;
        let event = create_event(&state, 10, 5).await;
        assert_eq!(api.book(&user(&state), &event, &["A1", "A2"]).await.0, 201);
        let (status, body) = api.book(&user(&state), &event, &["A2", "A3"]).await;
        assert_eq!(status, 409);
        assert_eq!(body["error"]["details"]["seats"], json!([format!("{event}_A2")]));
        assert_eq!(api.book(&user(&state), &event, &["A3"]).await.0, 201, "A3 was not held by the failed attempt");
    });
}

#[test]
fn expired_holds_release_seats_in_every_store() {
    run(async {
        let short = state_with(|c| c.hold_ttl = std::time::Duration::from_secs(1)).await;
        let _ = gateway_url().await; // the consumers run in the gateway's emulator
        let event = create_event(&short, 10, 5).await;
        let token = user(&short);
        let body = json!({ "eventId": event, "seatIds": [format!("{event}_A1"), format!("{event}_A2")] });
        let req = crate::common::api_request("POST", "/bookings", Some(&body), &[("authorization", &token)]);
        let (status, booked) = crate::common::read(send(&short, req).await);
        assert_eq!(status, 201, "{booked}");
        let id = booked["data"]["id"].as_str().unwrap().to_owned();
        eventually(10, "mongo holds the seats", || async {
            seat_docs(&short, &event).await.iter().filter(|s| s.booking_id.as_deref() == Some(id.as_str())).count() == 2
        })
        .await;
        tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
        // Before any sweep: the map already reads the seats as available…
        let board = redis_board(&short, &event).await;
        let now = chrono::Utc::now().timestamp_millis();
        assert!(board.values().all(|v| shared::repo::redis_seats::parse_status(v, now).is_none()));
        // …and the sweep makes it so in PostgreSQL and, via booking.expired, Mongo.
        shared::consumers::sweep(&short, std::time::Duration::from_secs(60)).await.unwrap();
        assert_eq!(booking_status(&short, &id).await, "EXPIRED");
        assert!(active_seats(&short, &event).await.is_empty());
        assert!(redis_board(&short, &event).await.is_empty());
        eventually(10, "mongo releases the seats", || async {
            seat_docs(&short, &event).await.iter().all(|s| s.booking_id.is_none())
        })
        .await;
        let (status, _) = TestApp::new().await.pay(&token, &id, "4242424242424242", None).await;
        assert_eq!(status, 409, "an expired booking cannot be paid");
    });
}

/// Whether the booking's booking.requested outbox row is still waiting for
/// its consumer.
async fn requested_undelivered(state: &State, booking: &str) -> bool {
    sqlx::query_scalar(
        "SELECT delivered_at IS NULL FROM bookings_demo.outbox
         WHERE topic = 'booking.requested' AND payload->'data'->>'bookingId' = $1",
    )
    .bind(booking)
    .fetch_one(state.pg())
    .await
    .unwrap()
}

/// The outbox is what keeps a booking from being lost between PostgreSQL and
/// Kafka: with the broker out of reach the request still answers 201, its
/// booking.requested row waits, and the sweeper publishes it again; the row
/// counts as delivered only once the consumer has applied it.
#[test]
fn a_message_the_broker_never_got_is_relayed_by_the_sweeper() {
    run(async {
        let live = state().await;
        let _ = gateway_url().await; // the consumers run in the gateway's emulator

        // The same database and topics, with a producer that reaches no broker.
        let cut_off = state_with(|c| c.kafka_brokers = "127.0.0.1:9".into()).await;
        let event = create_event(&live, 10, 5).await;
        let body = json!({ "eventId": event, "seatIds": [format!("{event}_A1")] });
        let req = crate::common::api_request("POST", "/bookings", Some(&body), &[("authorization", &user(&live))]);
        let (status, booked) = crate::common::read(send(&cut_off, req).await);
        assert_eq!(status, 201, "{booked}");
        let id = booked["data"]["id"].as_str().unwrap().to_owned();
        assert!(requested_undelivered(&live, &id).await);
        assert_eq!(booking_status(&live, &id).await, "PENDING");

        // The default wait (60 s) would leave this fresh row alone.
        let sweeper = state_with(|c| c.outbox_redeliver_after = std::time::Duration::ZERO).await;
        shared::consumers::sweep(&sweeper, std::time::Duration::from_secs(60)).await.unwrap();
        eventually(15, "the relayed booking is reserved", || async { booking_status(&live, &id).await == "RESERVED" })
            .await;
        eventually(5, "the consumer marks the row delivered", || async { !requested_undelivered(&live, &id).await })
            .await;
    });
}

/// A message its consumer never applies (dead-lettered every time) is sent
/// again a bounded number of times, then left for a person to look at.
#[test]
fn the_sweeper_gives_up_on_a_message_after_ten_attempts() {
    run(async {
        let state = state().await;
        let store = state.booking_repo();
        let mut ids = Vec::new();
        for attempts in [9, 10] {
            let id = Uuid::now_v7();
            sqlx::query(
                "INSERT INTO bookings_demo.outbox (id, topic, message_key, payload, relayed_at, relay_attempts)
                 VALUES ($1, 'event.created', 'nowhere', '{}', now() - interval '1 hour', $2)",
            )
            .bind(id)
            .bind(attempts)
            .execute(state.pg())
            .await
            .unwrap();
            ids.push(id);
        }
        let due: Vec<Uuid> = store
            .undelivered(std::time::Duration::from_secs(60), 100_000)
            .await
            .unwrap()
            .into_iter()
            .map(|row| row.id)
            .collect();
        assert!(due.contains(&ids[0]), "the ninth attempt is due");
        assert!(!due.contains(&ids[1]), "a tenth attempt was the last");
        let given_up = store.mark_relayed(&ids[..1]).await.unwrap();
        assert_eq!(given_up, vec![("event.created".to_owned(), ids[0])], "the tenth relay reports it was the last");
        let due = store.undelivered(std::time::Duration::ZERO, 100_000).await.unwrap();
        assert!(due.iter().all(|row| !ids.contains(&row.id)), "given-up rows are never due again");
        // event.created has no consumer, so a sweep elsewhere in the suite
        // that publishes them meanwhile does no harm.
        sqlx::query("DELETE FROM bookings_demo.outbox WHERE id = ANY($1)")
            .bind(&ids)
            .execute(state.pg())
            .await
            .unwrap();
    });
}

#[test]
fn a_stale_hold_is_expired_lazily_by_the_next_booking() {
    run(async {
        let short = state_with(|c| c.hold_ttl = std::time::Duration::from_millis(500)).await;
        let event = create_event(&short, 10, 5).await;
        let book = |token: String| {
            let body = json!({ "eventId": event, "seatIds": [format!("{event}_A5")] });
            let req = crate::common::api_request("POST", "/bookings", Some(&body), &[("authorization", &token)]);
            let short = &short;
            async move { crate::common::read(send(short, req).await) }
        };
        let (status, first) = book(user(&short)).await;
        assert_eq!(status, 201);
        tokio::time::sleep(std::time::Duration::from_millis(600)).await;
        let (status, second) = book(user(&short)).await;
        assert_eq!(status, 201, "the seat map said available, so booking succeeds: {second}");
        assert_eq!(booking_status(&short, first["data"]["id"].as_str().unwrap()).await, "EXPIRED");
    });
}

/// The seat's holder closes and another buyer books the seat a moment
/// later, round after round, through the real pipeline (gateway, Kafka,
/// consumers): the holder's release and the buyer's hold race on different
/// topics, and the buyer, whom PostgreSQL accepted, must end RESERVED every
/// time. Three ways to close: cancel, lapse (expired lazily by the buyer's
/// booking), and the sweeper's expiry, whose booking.expired is published at
/// once rather than after the outbox's relay wait.
#[test]
fn a_seat_freed_a_moment_ago_always_ends_reserved_for_the_next_buyer() {
    run(async {
        let state = state().await;
        let api = TestApp::new().await;
        // Holders that lapse book through a state with a short hold (same
        // database and topics), so the lapse is real in every store.
        let hold = std::time::Duration::from_secs(3);
        let short = state_with(|c| c.hold_ttl = hold).await;
        let event = create_event(&state, 10, 5).await;
        let settled = |id: String| {
            let state = state.clone();
            async move {
                eventually(15, "the booking leaves PENDING", || async {
                    booking_status(&state, &id).await != "PENDING"
                })
                .await;
                booking_status(&state, &id).await
            }
        };
        for round in 0..12 {
            let close = ["cancel", "lapse", "sweep"][round % 3];
            let holder = user(&state);
            let holding = match close {
                "cancel" => {
                    let (status, booked) = api.book(&holder, &event, &["A1"]).await;
                    assert_eq!(status, 201, "round {round}: {booked}");
                    booked["data"]["id"].as_str().unwrap().to_owned()
                }
                _ => {
                    let body = json!({ "eventId": event, "seatIds": [format!("{event}_A1")] });
                    let req =
                        crate::common::api_request("POST", "/bookings", Some(&body), &[("authorization", &holder)]);
                    let (status, booked) = crate::common::read(send(&short, req).await);
                    assert_eq!(status, 201, "round {round}: {booked}");
                    booked["data"]["id"].as_str().unwrap().to_owned()
                }
            };
            // The read model holds the seat for the holder before it closes.
            eventually(10, "mongo holds the seat for the holder", || async {
                seat_docs(&state, &event).await.iter().any(|s| s.booking_id.as_deref() == Some(holding.as_str()))
            })
            .await;
            match close {
                "cancel" => {
                    let (status, _) = api.cancel(&holder, &holding).await;
                    assert_eq!(status, 200);
                }
                "lapse" => tokio::time::sleep(hold).await,
                _ => {
                    tokio::time::sleep(hold).await;
                    shared::consumers::sweep(&state, std::time::Duration::from_secs(60)).await.unwrap();
                    assert_eq!(booking_status(&state, &holding).await, "EXPIRED");
                    let expired_delivered = || async {
                        sqlx::query_scalar::<_, bool>(
                            "SELECT delivered_at IS NOT NULL FROM bookings_demo.outbox
                             WHERE topic = 'booking.expired' AND payload->'data'->>'bookingId' = $1",
                        )
                        .bind(&holding)
                        .fetch_one(state.pg())
                        .await
                        .unwrap()
                    };
                    // Well inside the 60 s the relay would wait for it.
                    eventually(15, "the sweeper's booking.expired is consumed", expired_delivered).await;
                }
            }
            let buyer = user(&state);
            let (status, booked) = api.book(&buyer, &event, &["A1"]).await;
            assert_eq!(status, 201, "round {round} ({close}): {booked}");
            let bought = booked["data"]["id"].as_str().unwrap().to_owned();
            assert_eq!(settled(bought.clone()).await, "RESERVED", "round {round}: the buyer after a {close}");
            assert_stores_agree(&state, &event).await;
            let (status, _) = api.cancel(&buyer, &bought).await;
            assert_eq!(status, 200);
        }
    });
}

/// A sweep clears a backlog larger than one batch in one run (after an
/// outage, say), rather than one batch per scheduled run.
#[test]
fn one_sweep_expires_a_backlog_of_several_batches() {
    run(async {
        let state = state_with(|c| c.sweep_batch = 3).await;
        let event = create_event(&state, 10, 5).await;
        let mut ids = Vec::new();
        for n in 1..=8 {
            let (status, booked) = TestApp::new().await.book(&user(&state), &event, &[&format!("A{n}")]).await;
            assert_eq!(status, 201, "{booked}");
            ids.push(Uuid::parse_str(booked["data"]["id"].as_str().unwrap()).unwrap());
        }
        sqlx::query("UPDATE bookings_demo.bookings SET expires_at = now() - interval '1 second' WHERE id = ANY($1)")
            .bind(&ids)
            .execute(state.pg())
            .await
            .unwrap();
        // Other tests sweep the same database in parallel and may take some
        // of these; what must hold is that none is left open after this
        // one call, however many batches that takes.
        shared::consumers::sweep(&state, std::time::Duration::from_secs(60)).await.unwrap();
        assert_eq!(not_expired(&state, &ids).await, 0, "every overdue booking expired in one sweep");
    });
}

/// A request that died holding its Idempotency-Key (a timeout, a crash) must
/// not leave the key "in progress" forever: past the lease, a retry takes
/// over and gets a real answer.
#[test]
fn an_idempotency_key_left_by_a_dead_request_is_taken_over_after_its_lease() {
    run(async {
        let state = state().await;
        let event = create_event(&state, 10, 5).await;
        let user_id = Uuid::new_v4();
        let token = token_for(&state, user_id, Role::User);
        let body = json!({ "eventId": event, "seatIds": [format!("{event}_A1")] });
        let key = Uuid::new_v4().to_string();
        // What the dead request left: its claim, no answer, older than the lease.
        let hash = shared::idempotency::request_hash("POST", "/bookings", body.to_string().as_bytes());
        sqlx::query(
            "INSERT INTO bookings_demo.idempotency_keys (user_id, key, request_hash, claimed_at)
             VALUES ($1, $2, $3, now() - make_interval(secs => $4))",
        )
        .bind(user_id)
        .bind(&key)
        .bind(&hash)
        .bind(state.config.idempotency_lease.as_secs_f64() + 1.0)
        .execute(state.pg())
        .await
        .unwrap();
        let headers = [("authorization", token.as_str()), ("idempotency-key", key.as_str())];
        let req = crate::common::api_request("POST", "/bookings", Some(&body), &headers);
        let (status, first) = crate::common::read(send(&state, req).await);
        assert_eq!(status, 201, "the retry took the stale claim over: {first}");
        let req = crate::common::api_request("POST", "/bookings", Some(&body), &headers);
        let (status, again) = crate::common::read(send(&state, req).await);
        assert_eq!((status, &again), (201, &first), "and its answer is replayed from then on");
    });
}
