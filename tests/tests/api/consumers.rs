//! The Kafka consumers, invoked in-process with MSK events as the event
//! source mapping sends them.

use aws_lambda_events::event::kafka::KafkaEvent;
use mongodb::bson::doc;
use serde_json::{json, Value};
use shared::{
    consumers::{kafka_event, RawRecord},
    domain::{event::SeatStatus, user::Role},
};
use uuid::Uuid;

use crate::common::{
    api_request, call, create_event, deliver, eventually, gateway_url, isolated, read, run, seat_docs, send, state,
    token_for, State,
};

fn fixture(name: &str) -> KafkaEvent {
    let path = format!("{}/fixtures/msk/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).expect("an MSK event")
}

#[test]
fn an_msk_fixture_decodes_into_a_booking_message() {
    let event = fixture("booking-cancelled.json");
    let record = &event.records["booking.cancelled-0"][0];
    let delivery = shared::consumers::decode(record, "").unwrap();
    assert_eq!(delivery.topic, "booking.cancelled");
    assert_eq!(delivery.message.data.event_id, "msk-fixture-event");
    assert_eq!(delivery.message.data.seats, ["A1", "A2"]);
}

#[test]
fn undecodable_records_go_to_the_dead_letter_topic_and_the_batch_succeeds() {
    run(async {
        let state = state().await;
        let report = deliver(&state, "seat-projector", fixture("booking-cancelled-garbage.json")).await.unwrap();
        assert_eq!(report["deadLettered"], 1);
        assert_eq!(report["processed"], 0);
    });
}

/// Every message of a paid booking, delivered again after the processed
/// markers are lost (a crash between the write and the marker): nothing
/// changes in any store.
#[test]
fn redelivering_every_message_type_changes_nothing() {
    run(async {
        let state = state().await;
        let _ = gateway_url().await; // consumers running
        let event = create_event(&state, 10, 5).await;
        let token = token_for(&state, Uuid::new_v4(), Role::User);
        let body = json!({ "eventId": event, "seatIds": [format!("{event}_A1"), format!("{event}_A2")] });
        let (status, booked) =
            read(send(&state, api_request("POST", "/bookings", Some(&body), &[("authorization", &token)])).await);
        assert_eq!(status, 201);
        let id = booked["data"]["id"].as_str().unwrap().to_owned();
        let booking = Uuid::parse_str(&id).unwrap();
        let current = || async {
            let status: String = sqlx::query_scalar("SELECT status FROM bookings_demo.bookings WHERE id = $1")
                .bind(booking)
                .fetch_one(state.pg())
                .await
                .unwrap();
            status
        };
        eventually(10, "RESERVED", || async { current().await == "RESERVED" }).await;
        let card = json!({ "paymentMethod": { "cardNumber": "4242424242424242" } });
        assert_eq!(call(&state, "POST", &format!("/bookings/{id}/pay"), Some(&token), Some(&card)).await.0, 200);
        let seats = state.events().seats().clone();
        let booked_in_mongo = || async {
            seats.count_documents(doc! { "eventId": &event, "status": "booked", "bookingId": &id }).await.unwrap()
        };
        eventually(10, "mongo shows both seats booked", || async { booked_in_mongo().await == 2 }).await;

        // Every message this booking produced, plus the reserver's answer,
        // each delivered twice in a row.
        let messages = messages_of(&state, &id).await;
        let topics: Vec<&str> = messages.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(topics, ["booking.requested", "booking.confirmed", "seat.reserved"]);
        sqlx::query("DELETE FROM bookings_demo.processed_messages").execute(state.pg()).await.unwrap();
        let twice: Vec<(String, Value)> = messages.iter().flat_map(|m| [m.clone(), m.clone()]).collect();
        redeliver_each(&state, &event, &twice).await;
        assert_eq!(current().await, "CONFIRMED");
        assert_eq!(booked_in_mongo().await, 2);
        let mut redis = state.redis().await.unwrap();
        let board: std::collections::HashMap<String, String> = redis::cmd("HGETALL")
            .arg(shared::repo::redis_seats::board_key(&shared::domain::event::EventId::parse(&event).unwrap()))
            .query_async(&mut redis)
            .await
            .unwrap();
        assert_eq!(board.get("A1"), Some(&format!("B|{id}")));
        assert_eq!(board.get("A2"), Some(&format!("B|{id}")));
        let payments: i64 = sqlx::query_scalar("SELECT count(*) FROM bookings_demo.payments WHERE booking_id = $1")
            .bind(booking)
            .fetch_one(state.pg())
            .await
            .unwrap();
        assert_eq!(payments, 1);
    });
}

/// Sends each (topic, message) as its own one-record batch to the function
/// that consumes the topic, in the order given.
async fn redeliver_each(state: &State, event: &str, messages: &[(String, Value)]) {
    for (offset, (topic, payload)) in messages.iter().enumerate() {
        let record = RawRecord {
            topic: format!("{}{topic}", state.config.topic_prefix),
            partition: 0,
            offset: offset as i64,
            key: Some(event.as_bytes().to_vec()),
            value: serde_json::to_vec(payload).unwrap(),
        };
        let consumer = match topic.as_str() {
            "booking.requested" => "seat-reserver",
            "seat.reserved" | "seat.reservation_failed" => "booking-status",
            _ => "seat-projector",
        };
        let report =
            deliver(state, consumer, kafka_event(vec![record])).await.unwrap_or_else(|e| panic!("{topic}: {e}"));
        assert_eq!(report["deadLettered"], 0, "{topic}");
    }
}

/// The messages the booking's requests wrote to the outbox, plus the
/// reserver's answer, as the consumers would receive them.
async fn messages_of(state: &State, booking: &str) -> Vec<(String, Value)> {
    let mut messages: Vec<(String, Value)> = sqlx::query_as(
        "SELECT topic, payload FROM bookings_demo.outbox WHERE payload->'data'->>'bookingId' = $1 ORDER BY seq",
    )
    .bind(booking)
    .fetch_all(state.pg())
    .await
    .unwrap();
    let mut reserved = messages[0].1.clone();
    reserved["id"] = Uuid::now_v7().to_string().into();
    reserved["type"] = "seat.reserved".into();
    messages.push(("seat.reserved".into(), reserved));
    messages
}

async fn status_of(state: &State, booking: &str) -> String {
    sqlx::query_scalar("SELECT status FROM bookings_demo.bookings WHERE id = $1::uuid")
        .bind(booking)
        .fetch_one(state.pg())
        .await
        .unwrap()
}

/// (status, holder) of every seat of the event in the read model.
async fn seat_states(state: &State, event: &str) -> Vec<(SeatStatus, Option<String>)> {
    seat_docs(state, event).await.into_iter().map(|seat| (seat.status, seat.booking_id)).collect()
}

#[test]
fn every_topic_out_of_order_and_twice_ends_in_the_right_state() {
    run(async {
        // Own topics: nothing but this test delivers these messages.
        let state = isolated(|_| {}).await;
        let event = create_event(&state, 10, 5).await;
        let seats = json!({ "eventId": event, "seatIds": [format!("{event}_A1"), format!("{event}_A2")] });

        // A paid booking: confirmed arrives first, then the reservation, then
        // the request itself; then everything again, newest first.
        let payer = token_for(&state, Uuid::new_v4(), Role::User);
        let (status, booked) = call(&state, "POST", "/bookings", Some(&payer), Some(&seats)).await;
        assert_eq!(status, 201, "{booked}");
        let paid = booked["data"]["id"].as_str().unwrap().to_owned();
        let card = json!({ "paymentMethod": { "type": "card", "cardNumber": "4242424242424242" } });
        assert_eq!(call(&state, "POST", &format!("/bookings/{}/pay", paid), Some(&payer), Some(&card)).await.0, 200);
        let mut messages = messages_of(&state, &paid).await;
        let topics: Vec<&str> = messages.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(topics, ["booking.requested", "booking.confirmed", "seat.reserved"]);
        messages.swap(0, 1); // confirmed, requested, reserved
        messages.reverse(); // reserved, requested, confirmed
        let mut twice = messages.clone();
        twice.extend(messages.iter().rev().cloned());
        redeliver_each(&state, &event, &twice).await;

        assert_eq!(status_of(&state, &paid).await, "CONFIRMED");
        let docs = seat_states(&state, &event).await;
        let booked_by_payer =
            docs.iter().filter(|(s, b)| *s == SeatStatus::Booked && b.as_deref() == Some(paid.as_str())).count();
        assert_eq!(booked_by_payer, 2, "{docs:?}");

        // A cancelled booking: the cancellation overtakes the request.
        let (status, _) = call(
            &state,
            "POST",
            "/bookings",
            Some(&payer),
            Some(&json!({
                "eventId": event, "seatIds": [format!("{event}_A3")]
            })),
        )
        .await;
        assert_eq!(status, 201);
        let (_, list) = read(send(&state, api_request("GET", "/bookings", None, &[("authorization", &payer)])).await);
        let cancelled = list["data"]["bookings"][0]["id"].as_str().unwrap().to_owned();
        assert_eq!(call(&state, "PUT", &format!("/bookings/{}/cancel", cancelled), Some(&payer), None).await.0, 200);
        let mut messages = messages_of(&state, &cancelled).await;
        let topics: Vec<&str> = messages.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(topics, ["booking.requested", "booking.cancelled", "seat.reserved"]);
        messages.reverse(); // reserved, cancelled, requested
        let mut twice = messages.clone();
        twice.extend(messages.iter().cloned());
        redeliver_each(&state, &event, &twice).await;

        let docs = seat_states(&state, &event).await;
        assert!(
            !docs.iter().any(|(_, b)| b.as_deref() == Some(cancelled.as_str())),
            "no seat is left held for the cancelled booking: {docs:?}"
        );
        assert_eq!(status_of(&state, &cancelled).await, "CANCELLED");
        let booked_by_payer =
            docs.iter().filter(|(s, b)| *s == SeatStatus::Booked && b.as_deref() == Some(paid.as_str())).count();
        assert_eq!(booked_by_payer, 2, "the paid booking is untouched: {docs:?}");
    });
}

/// One batch asks for a seat twice: first for a booking that was cancelled
/// before the reserver ran, then for the buyer who took the seat after the
/// cancel. The cancelled booking's hold must be released before the next
/// request for that seat is tried, or the buyer would be failed for a seat
/// nobody has.
#[test]
fn a_seat_freed_by_a_cancel_goes_to_the_next_buyer_in_the_same_batch() {
    run(async {
        // Own topics: the running consumers never see these messages.
        let state = isolated(|_| {}).await;
        let event = create_event(&state, 10, 5).await;
        let seat = json!({ "eventId": event, "seatIds": [format!("{event}_A1")] });
        let first = token_for(&state, Uuid::new_v4(), Role::User);
        let (status, booked) = call(&state, "POST", "/bookings", Some(&first), Some(&seat)).await;
        assert_eq!(status, 201, "{booked}");
        let cancelled = booked["data"]["id"].as_str().unwrap().to_owned();
        assert_eq!(call(&state, "PUT", &format!("/bookings/{}/cancel", cancelled), Some(&first), None).await.0, 200);
        let second = token_for(&state, Uuid::new_v4(), Role::User);
        let (status, booked) = call(&state, "POST", "/bookings", Some(&second), Some(&seat)).await;
        assert_eq!(status, 201, "{booked}");
        let buyer = booked["data"]["id"].as_str().unwrap().to_owned();

        let mut records = Vec::new();
        for (offset, booking) in [&cancelled, &buyer].into_iter().enumerate() {
            let (topic, payload) = messages_of(&state, booking).await.remove(0);
            assert_eq!(topic, "booking.requested");
            records.push(RawRecord {
                topic: format!("{}{topic}", state.config.topic_prefix),
                partition: 0,
                offset: offset as i64,
                key: Some(event.as_bytes().to_vec()),
                value: serde_json::to_vec(&payload).unwrap(),
            });
        }
        let report = deliver(&state, "seat-reserver", kafka_event(records)).await.unwrap();
        assert_eq!(report["processed"], 2);

        let docs = seat_states(&state, &event).await;
        let held_by_buyer =
            docs.iter().filter(|(s, b)| *s == SeatStatus::Held && b.as_deref() == Some(buyer.as_str())).count();
        assert_eq!(held_by_buyer, 1, "{docs:?}");
        assert!(!docs.iter().any(|(_, b)| b.as_deref() == Some(cancelled.as_str())), "{docs:?}");
    });
}

/// A one-partition topic of its own for a broker probe, and its producer.
async fn probe_topic(config: &shared::config::Config, name: &str) -> (String, rdkafka::producer::FutureProducer) {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    let topic = format!("test.{name}.{}", Uuid::new_v4().simple());
    let admin: AdminClient<rdkafka::client::DefaultClientContext> =
        shared::kafka::client_config(config).await.unwrap().create().unwrap();
    let created = admin
        .create_topics(&[NewTopic::new(&topic, 1, TopicReplication::Fixed(1))], &AdminOptions::new())
        .await
        .unwrap();
    assert!(created.iter().all(Result::is_ok), "{created:?}");
    // Several sends within the linger go out as one batch.
    let producer = shared::kafka::client_config(config).await.unwrap().set("linger.ms", "200").create().unwrap();
    (topic, producer)
}

/// A consumer reading partition 0 of `topic` from `offset`, without a
/// committed position.
fn probe_consumer(
    config: &shared::config::Config,
    topic: &str,
    offset: rdkafka::Offset,
    fetch_wait: std::time::Duration,
) -> rdkafka::consumer::StreamConsumer {
    use rdkafka::consumer::Consumer;
    let consumer: rdkafka::consumer::StreamConsumer = shared::kafka::client_config_for(config, &config.kafka_brokers)
        .set("group.id", format!("fetch-probe-{}", Uuid::new_v4().simple()))
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", fetch_wait.as_millis().to_string())
        .create()
        .unwrap();
    let mut partitions = rdkafka::TopicPartitionList::new();
    partitions.add_partition_offset(topic, 0, offset).unwrap();
    consumer.assign(&partitions).unwrap();
    consumer
}

/// The local broker answers a fetch as soon as it holds records, as Kafka
/// does, instead of sleeping out the consumer's `fetch.wait.max.ms` with the
/// records in hand (Tansu 0.6.0 does the latter; `local/stack.sh` builds it
/// with local/tansu/fetch-answers-when-ready.patch). Unpatched, every hop of
/// the booking pipeline waited the emulator's whole fetch wait.
#[test]
fn the_local_broker_answers_a_fetch_as_soon_as_it_has_records() {
    use rdkafka::{producer::FutureRecord, Message, Offset};
    use std::time::{Duration, Instant};
    run(async {
        let config = crate::common::test_config();
        let (topic, producer) = probe_topic(&config, "fetch-probe").await;
        producer.send(FutureRecord::to(&topic).key("probe").payload("ready"), Duration::from_secs(10)).await.unwrap();

        // Far longer than the answer should take, far shorter than the test.
        let fetch_wait = Duration::from_secs(4);
        let consumer = probe_consumer(&config, &topic, Offset::Beginning, fetch_wait);
        let asked = Instant::now();
        let message = tokio::time::timeout(Duration::from_secs(20), consumer.recv()).await.unwrap().unwrap();
        let waited = asked.elapsed();
        assert_eq!(message.payload(), Some(&b"ready"[..]));
        assert!(
            waited < fetch_wait / 2,
            "a record already on the topic took {waited:?} to arrive: the broker sat out fetch.wait.max.ms \
             ({fetch_wait:?}); is the unpatched Tansu running?"
        );
    });
}

/// A consumer whose committed offset falls inside a batch (the emulator
/// commits after each function batch, wherever that ends) gets the rest of
/// that batch when it resumes. Tansu 0.6.0 answered from the next batch on
/// and the remainder was never delivered; local/tansu/fetch-by-offset.patch
/// serves the batch holding the offset, as Kafka does.
#[test]
fn a_consumer_resuming_inside_a_batch_gets_the_rest_of_it() {
    use rdkafka::{producer::FutureRecord, Message, Offset};
    use std::time::Duration;
    run(async {
        let config = crate::common::test_config();
        let (topic, producer) = probe_topic(&config, "mid-batch").await;
        let sends =
            (0..5).map(|i| {
                let payload = format!("record-{i}");
                let producer = &producer;
                let topic = &topic;
                async move {
                    producer.send(FutureRecord::to(topic).key("k").payload(&payload), Duration::from_secs(10)).await
                }
            });
        let offsets: Vec<i64> =
            futures::future::join_all(sends).await.into_iter().map(|sent| sent.unwrap().offset).collect();
        assert_eq!(offsets, vec![0, 1, 2, 3, 4]);

        let consumer = probe_consumer(&config, &topic, Offset::Offset(2), Duration::from_millis(100));
        let mut received = Vec::new();
        while received.len() < 3 {
            let message = tokio::time::timeout(Duration::from_secs(10), consumer.recv())
                .await
                .expect("the records after offset 2 never came: the broker skipped the rest of their batch")
                .unwrap();
            received.push((message.offset(), String::from_utf8_lossy(message.payload().unwrap()).into_owned()));
        }
        assert_eq!(received, vec![(2, "record-2".to_owned()), (3, "record-3".to_owned()), (4, "record-4".to_owned())]);
    });
}

/// The read model still holds a seat for a booking that PostgreSQL has
/// closed, because that booking's release travels on another topic and has
/// not been applied yet. The next buyer, whom PostgreSQL accepted, must get
/// the seat: PostgreSQL is the judge, not the read model. Both ways a
/// booking closes while holding: cancelled, and lapsed (then expired lazily
/// by the buyer's own booking).
#[test]
fn a_seat_still_held_for_a_closed_booking_goes_to_the_buyer_postgres_accepted() {
    run(async {
        // Own topics: the releases are never projected, so the read model
        // keeps the closed booking's hold for as long as the test needs.
        // A 3 s hold, so a lapse is a real one in every store.
        let hold = std::time::Duration::from_secs(3);
        let state = isolated(|c| c.hold_ttl = hold).await;
        let event = create_event(&state, 10, 5).await;
        for (round, close) in ["cancel", "lapse"].into_iter().enumerate() {
            let seat = json!({ "eventId": event, "seatIds": [format!("{event}_A{}", round + 1)] });
            let first = token_for(&state, Uuid::new_v4(), Role::User);
            let (status, booked) = call(&state, "POST", "/bookings", Some(&first), Some(&seat)).await;
            assert_eq!(status, 201, "{booked}");
            let holder = booked["data"]["id"].as_str().unwrap().to_owned();
            let request = messages_of(&state, &holder).await.remove(0);
            redeliver_each(&state, &event, &[request]).await;
            assert!(seat_states(&state, &event).await.contains(&(SeatStatus::Held, Some(holder.clone()))));
            match close {
                "cancel" => assert_eq!(
                    call(&state, "PUT", &format!("/bookings/{}/cancel", holder), Some(&first), None).await.0,
                    200
                ),
                _ => tokio::time::sleep(hold + std::time::Duration::from_millis(200)).await,
            }
            let second = token_for(&state, Uuid::new_v4(), Role::User);
            let (status, booked) = call(&state, "POST", "/bookings", Some(&second), Some(&seat)).await;
            assert_eq!(status, 201, "{close}: postgres accepts the buyer: {booked}");
            let buyer = booked["data"]["id"].as_str().unwrap().to_owned();
            let request = messages_of(&state, &buyer).await.remove(0);
            redeliver_each(&state, &event, &[request]).await;

            let docs = seat_states(&state, &event).await;
            assert!(
                docs.contains(&(SeatStatus::Held, Some(buyer.clone()))),
                "{close}: the buyer holds the seat: {docs:?}"
            );
            assert!(!docs.iter().any(|(_, b)| b.as_deref() == Some(holder.as_str())), "{close}: {docs:?}");
        }
    });
}
