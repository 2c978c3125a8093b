//! The organisers' sales figures against the real stores: the analytics
//! consumer runs in the gateway on the suite's topics, and after a storm of
//! bookings, payments, cancellations and lapses its counters agree with what
//! PostgreSQL recorded; redelivered and concurrently delivered batches count
//! nothing twice; the endpoint is admin-only, validates and pages.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use futures::future::join_all;
use serde_json::{json, Value};
use shared::{
    consumers::{kafka_event, RawRecord},
    domain::{event::EventId, user::Role},
    kafka::{self, Envelope},
    messages::BookingMessage,
};
use uuid::Uuid;

use crate::common::*;

async fn get_stats(app: &TestApp, event: &str, query: &str, token: &str) -> (u16, Value) {
    app.call("GET", &format!("/admin/events/{event}/stats{query}"), Some(token), None).await
}

/// The event's figures as PostgreSQL's own tables tell them: bookings made,
/// and the audit log's record of every payment, cancellation and lapse.
async fn recomputed(event: &str) -> Value {
    let pg = state().await.pg().clone();
    let (requested, seats_requested): (i64, i64) = sqlx::query_as(
        "SELECT count(DISTINCT b.id), count(s.*) FROM bookings_demo.bookings b
           JOIN bookings_demo.booking_seats s ON s.booking_id = b.id WHERE b.event_id = $1",
    )
    .bind(event)
    .fetch_one(&pg)
    .await
    .unwrap();
    let moved = |to: &'static str| {
        let pg = pg.clone();
        async move {
            let row: (i64, i64, i64, i64) = sqlx::query_as(
                "SELECT count(*), COALESCE(SUM(b.total_cents), 0)::bigint,
                        COALESCE(SUM((SELECT count(*) FROM bookings_demo.booking_seats s WHERE s.booking_id = b.id)), 0)::bigint,
                        COALESCE(SUM((a.detail->>'amountCents')::bigint), 0)::bigint
                   FROM bookings_demo.audit_log a JOIN bookings_demo.bookings b ON b.id = a.booking_id
                  WHERE b.event_id = $1 AND a.to_status = $2",
            )
            .bind(event)
            .bind(to)
            .fetch_one(&pg)
            .await
            .unwrap();
            row
        }
    };
    let (confirmed, gross, seats_sold, _) = moved("CONFIRMED").await;
    let (cancelled, _, seats_cancelled, refunded) = moved("CANCELLED").await;
    let (expired, ..) = moved("EXPIRED").await;
    let (failed, ..) = moved("FAILED").await;
    json!({
        "requested": requested, "seatsRequested": seats_requested, "confirmed": confirmed, "seatsSold": seats_sold,
        "grossCents": gross, "cancelled": cancelled, "seatsCancelled": seats_cancelled, "refundedCents": refunded,
        "expired": expired, "failed": failed,
    })
}

/// The counters of `totals`, without the instants.
fn counters(totals: &Value) -> Value {
    let mut counts = totals.clone();
    let map = counts.as_object_mut().unwrap();
    map.remove("firstRequestAt");
    map.remove("lastSaleAt");
    counts
}

#[test]
fn after_a_storm_the_counters_agree_with_postgres_and_the_seat_board() {
    run(async {
        let state = state().await;
        let app = TestApp::new().await;
        let event = create_event(&state, 60, 30).await;
        let admin = token_for(&state, Uuid::new_v4(), Role::Admin);
        // 40 fans, two seats each: 25 pairs of seats, the first 15 wanted by
        // two fans at once, so some lose (409). Winners pay, cancel after
        // paying (a refund), cancel unpaid or leave the hold to lapse; the
        // pairs only one fan wants guarantee each outcome happens.
        let attempts = (0..40u32).map(|i| {
            let (app, event) = (app.clone(), event.clone());
            let token = token_for(&state, Uuid::new_v4(), Role::User);
            async move {
                let pair = i % 25;
                let row = ["A", "B", "C", "D", "E"][(pair / 5) as usize];
                let first = 2 * (pair % 5) + 1;
                let seats = [format!("{event}_{row}{first}"), format!("{event}_{row}{}", first + 1)];
                let (status, booking) = app
                    .call("POST", "/bookings", Some(&token), Some(&json!({ "eventId": event, "seatIds": seats })))
                    .await;
                if status != 201 {
                    assert_eq!(status, 409, "a lost race is a conflict");
                    return None;
                }
                let id = booking["data"]["id"].as_str().unwrap().to_owned();
                let pay = || app.pay(&token, &id, "4242424242424242", None);
                let cancel = || app.cancel(&token, &id);
                match i % 4 {
                    0 => assert_eq!(pay().await.0, 200),
                    1 => {
                        assert_eq!(pay().await.0, 200);
                        assert_eq!(cancel().await.0, 200);
                    }
                    2 => assert_eq!(cancel().await.0, 200),
                    _ => return Some(id), // left to lapse
                }
                None
            }
        });
        let to_lapse: Vec<Uuid> =
            join_all(attempts).await.into_iter().flatten().map(|id| Uuid::parse_str(&id).unwrap()).collect();
        // The lapses: their deadlines moved into the past, then the sweep
        // that runs every minute on AWS, at once, so that no other test's
        // sweep from private topics (tests share the database) takes them.
        sqlx::query("UPDATE bookings_demo.bookings SET expires_at = now() - interval '1 second' WHERE id = ANY($1)")
            .bind(&to_lapse)
            .execute(state.pg())
            .await
            .unwrap();
        shared::consumers::sweep(&state, std::time::Duration::from_secs(30)).await.unwrap();
        eventually(60, "the sweeper expires the lapsed holds", || async { not_expired(&state, &to_lapse).await == 0 })
            .await;

        let expected = recomputed(&event).await;
        assert!(expected["confirmed"].as_i64().unwrap() >= 5, "the storm paid for bookings: {expected}");
        assert!(expected["refundedCents"].as_i64().unwrap() > 0, "and refunded some: {expected}");
        assert!(expected["expired"].as_i64().unwrap() > 0, "and let some lapse: {expected}");
        let mut last = Value::Null;
        let settled = async {
            loop {
                let (status, body) = get_stats(&app, &event, "?limit=1440", &admin).await;
                assert_eq!(status, 200, "{body}");
                last = body["data"].clone();
                if counters(&last["totals"]) == expected {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        };
        if tokio::time::timeout(std::time::Duration::from_secs(60), settled).await.is_err() {
            panic!("the counters never matched PostgreSQL:\n  counted {}\n  expected {expected}", last["totals"]);
        }

        // The per-minute series adds up to the totals.
        let mut summed: BTreeMap<String, i64> = BTreeMap::new();
        for minute in last["minutes"].as_array().unwrap() {
            for (key, value) in minute.as_object().unwrap() {
                if let Some(n) = value.as_i64() {
                    *summed.entry(key.clone()).or_default() += n;
                }
            }
        }
        for (key, value) in expected.as_object().unwrap() {
            assert_eq!(summed.get(key).copied().unwrap_or(0), value.as_i64().unwrap(), "minutes of {key}");
        }
        // Revenue and conversion follow from the counts.
        let gross = expected["grossCents"].as_i64().unwrap();
        assert_eq!(last["netCents"].as_i64().unwrap(), gross - expected["refundedCents"].as_i64().unwrap());
        let conversion = expected["confirmed"].as_f64().unwrap() / expected["requested"].as_f64().unwrap();
        assert!((last["conversion"].as_f64().unwrap() - conversion).abs() < 1e-9);

        // Seats right now are the seat board's, which PostgreSQL backs: sold
        // = seats of paid bookings still active. (The projection lags the
        // commit, so wait for it too.)
        let (sold, held): (i64, i64) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE b.status = 'CONFIRMED'), count(*) FILTER (WHERE b.status IN ('PENDING', 'RESERVED'))
               FROM bookings_demo.booking_seats s JOIN bookings_demo.bookings b ON b.id = s.booking_id
              WHERE s.event_id = $1 AND s.active",
        )
        .bind(&event)
        .fetch_one(state.pg())
        .await
        .unwrap();
        eventually(30, "the seat board to show the sold seats", || async {
            let (_, body) = get_stats(&app, &event, "", &admin).await;
            let seats = &body["data"]["seats"];
            seats["booked"] == sold && seats["held"] == held && seats["total"] == 60
        })
        .await;
        let (_, body) = get_stats(&app, &event, "", &admin).await;
        let sections = body["data"]["sections"].as_array().unwrap();
        let booked_in_sections: i64 = sections.iter().map(|s| s["booked"].as_i64().unwrap()).sum();
        assert_eq!(booked_in_sections, sold, "{sections:?}");
        assert_eq!(body["data"]["admitted"], 0);
    })
}

/// `count` synthetic booking messages for `event`, spread over minutes
/// ending at `last_minute`, as one MSK batch.
fn synthetic_batch(state: &State, event: &str, count: usize, last_minute: DateTime<Utc>) -> Vec<RawRecord> {
    (0..count)
        .map(|i| {
            let topic = [kafka::BOOKING_REQUESTED, kafka::BOOKING_CONFIRMED, kafka::BOOKING_CANCELLED][i % 3];
            let data = BookingMessage {
                booking_id: Uuid::new_v4(),
                event_id: event.to_owned(),
                seats: vec!["A1".into(), "A2".into()],
                total_cents: Some(5_000),
                refund_cents: (topic == kafka::BOOKING_CANCELLED).then_some(5_000),
                ..BookingMessage::default()
            };
            let mut message = Envelope::new(topic, data);
            message.occurred_at = last_minute - Duration::minutes((i % 5) as i64) + Duration::seconds(7);
            RawRecord {
                topic: format!("{}{topic}", state.config.topic_prefix),
                partition: (i % 3) as i64,
                offset: i as i64,
                key: Some(event.as_bytes().to_vec()),
                value: message.to_bytes().unwrap(),
            }
        })
        .collect()
}

async fn count_batch(state: &State, records: Vec<RawRecord>) -> Value {
    deliver(state, "analytics", kafka_event(records)).await.expect("batch applied")
}

#[test]
fn concurrent_and_repeated_deliveries_of_a_batch_count_once() {
    run(async {
        let state = state().await;
        // An event id no one books: only this batch moves its counters.
        let event = EventId::generate().to_string();
        let minute = shared::domain::sales::minute_of(Utc::now());
        let batch = synthetic_batch(&state, &event, 60, minute);
        // Eight instances handed the same batch at once (a rebalance), then
        // two plain redeliveries.
        let reports = join_all((0..8).map(|_| count_batch(&state, batch.clone()))).await;
        assert!(reports.iter().all(|r| r["deadLettered"] == 0), "{reports:?}");
        count_batch(&state, batch.clone()).await;
        let again = count_batch(&state, batch.clone()).await;
        assert_eq!(again["skippedDuplicates"], 60, "{again}");

        let totals = state.sales().totals(&event).await.unwrap();
        assert_eq!((totals.requested, totals.confirmed, totals.cancelled), (20, 20, 20));
        assert_eq!((totals.seats_requested, totals.seats_sold, totals.seats_cancelled), (40, 40, 40));
        assert_eq!((totals.gross_cents, totals.refunded_cents), (100_000, 100_000));
        let minutes = state.sales().minutes(&event, DateTime::UNIX_EPOCH, 100).await.unwrap();
        assert_eq!(minutes.len(), 5);
        assert_eq!(minutes.iter().map(|(_, c)| c.requested).sum::<i64>(), 20);
    })
}

#[test]
fn the_endpoint_is_for_admins_validates_and_pages_the_minutes() {
    run(async {
        let state = state().await;
        let app = TestApp::new().await;
        let event = create_event(&state, 20, 30).await;
        let minute = shared::domain::sales::minute_of(Utc::now());
        count_batch(&state, synthetic_batch(&state, &event, 15, minute)).await;
        let admin = token_for(&state, Uuid::new_v4(), Role::Admin);
        let fan = token_for(&state, Uuid::new_v4(), Role::User);
        let staff = token_for(&state, Uuid::new_v4(), Role::Staff);

        assert_eq!(get_stats(&app, &event, "", "").await.0, 401);
        for (token, who) in [(&fan, "a fan"), (&staff, "door staff")] {
            let (status, body) = get_stats(&app, &event, "", token).await;
            assert_eq!(status, 403, "{who}: {body}");
            assert!(body["data"].is_null(), "{who} sees no figures: {body}");
        }
        let (status, body) = get_stats(&app, EventId::generate().as_ref(), "", &admin).await;
        assert_eq!(status, 404, "{body}");
        for query in ["?limit=0", "?limit=1441", "?limit=ten", "?from=yesterday"] {
            let (status, body) = get_stats(&app, &event, query, &admin).await;
            assert_eq!(status, 400, "{query}: {body}");
            assert_eq!(body["error"]["code"], "VALIDATION_ERROR", "{query}: {body}");
        }

        // Five minutes of activity, two per page.
        let mut query = "?limit=2".to_owned();
        let mut pages = Vec::new();
        loop {
            let (status, body) = get_stats(&app, &event, &query, &admin).await;
            assert_eq!(status, 200, "{body}");
            let data = &body["data"];
            pages.push(
                data["minutes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| m["minute"].as_str().unwrap().to_owned())
                    .collect::<Vec<_>>(),
            );
            assert_eq!(data["totals"]["requested"], 5, "totals are the event's whatever the page");
            match data["nextFrom"].as_str() {
                Some(next) => query = format!("?limit=2&from={}", urlencoding(next)),
                None => break,
            }
            assert!(pages.len() < 10, "paging ends");
        }
        assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 1]);
        let all: Vec<&String> = pages.iter().flatten().collect();
        assert!(all.windows(2).all(|w| w[0] < w[1]), "oldest first, no minute twice: {all:?}");
        let response = app
            .request("GET", &format!("/admin/events/{event}/stats"))
            .header("authorization", &admin)
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["cache-control"], "private, no-store");
    })
}

fn urlencoding(value: &str) -> String {
    value.replace('+', "%2B").replace(':', "%3A")
}
