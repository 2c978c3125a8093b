//! Faults in the middle of real traffic. Each test gets a private copy of the
//! part it breaks (a Redis database, an nx-27017 server, a Tansu broker), so the rest of the
//! suite keeps running against the shared stack.
//!
//! The broker outage runs on a private Tansu with its log in memory, as
//! `local/stack.sh` runs it (the SQLite engine panics, tansu-storage
//! lite.rs, on every produce to a partition after an idempotent producer's
//! messages failed across an outage). Two things it needed: a producer that
//! is replaced once its messages time out (the old one kept timing out
//! against the restarted broker for 120 s and more), and outbox rows that
//! count as done only when consumed (the restarted broker has lost even what
//! it acknowledged). The plain relay path (publish failure → row waits → the
//! sweeper publishes it) is also tested in bookings.rs.

use std::{
    collections::{HashMap, HashSet},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use futures::future::join_all;
use mongodb::bson::doc;
use serde_json::{json, Value};
use shared::{
    config::Secret,
    consumers::{kafka_event, RawRecord},
    domain::{event::EventId, user::Role},
    repo::redis_seats::board_key,
};
use uuid::Uuid;

use crate::common::{
    active_seats, api_request, create_event, deliver, installed, isolated, read, run, send, tansu_bin, token_for, State,
};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A server process of this test's own, stopped when dropped.
struct Private {
    child: Option<Child>,
    program: PathBuf,
    args: Vec<String>,
    dir: PathBuf,
    port: u16,
}

impl Private {
    fn start(program: PathBuf, args: Vec<String>, port: u16) -> Private {
        let dir = std::env::temp_dir().join(format!("ticketing-fault-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut server = Private { child: None, program, args, dir, port };
        server.resume();
        server
    }

    fn resume(&mut self) {
        let child = Command::new(&self.program)
            .args(&self.args)
            .current_dir(&self.dir)
            .stdout(Stdio::null())
            .stderr(std::fs::OpenOptions::new().create(true).append(true).open(self.dir.join("server.log")).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", self.program.display()));
        self.child = Some(child);
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "{} did not listen on {}", self.program.display(), self.port);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop(&mut self) {
        // SIGTERM, as an operator or orchestrator stops a server.
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let _ = child.wait();
        }
    }
}

impl Drop for Private {
    fn drop(&mut self) {
        self.stop();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn book_request(state: &State, event: &str, label: &str) -> lambda_http::Request {
    let token = token_for(state, Uuid::new_v4(), Role::User);
    let body = json!({ "eventId": event, "seatIds": [format!("{event}_{label}")] });
    api_request("POST", "/bookings", Some(&body), &[("authorization", &token)])
}

#[test]
fn redis_flushed_mid_storm_oversells_nothing_and_the_holds_come_back() {
    run(async {
        // Redis database 4 is this test's alone, so the flush hurts nobody else.
        let state = Arc::new(isolated(|c| c.redis_url = Secret::new("redis://127.0.0.1:6379/4")).await);
        let event = create_event(&state, 10, 30).await;
        let answered = Arc::new(AtomicUsize::new(0));
        let flusher = {
            let (state, answered) = (state.clone(), answered.clone());
            tokio::spawn(async move {
                while answered.load(Ordering::SeqCst) < 40 {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                let mut redis = state.redis().await.unwrap();
                let _: () = redis::cmd("FLUSHDB").query_async(&mut redis).await.unwrap();
            })
        };
        // 150 buyers, 15 per seat, all at once.
        let buyers = (0..150).map(|i| {
            let (state, event, answered) = (state.clone(), event.clone(), answered.clone());
            tokio::spawn(async move {
                let req = book_request(&state, &event, &format!("A{}", i % 10 + 1));
                let (status, body) = read(send(&state, req).await);
                answered.fetch_add(1, Ordering::SeqCst);
                (status, body)
            })
        });
        let answers: Vec<(u16, Value)> = join_all(buyers).await.into_iter().map(Result::unwrap).collect();
        flusher.await.unwrap();

        for (status, body) in &answers {
            assert!(matches!(status, 201 | 409), "only created or conflict, got {status}: {body}");
        }
        let created = answers.iter().filter(|(status, _)| *status == 201).count();
        // active_seats fails the test if a seat is in two active bookings.
        let active = active_seats(&state, &event).await;
        assert_eq!(created, active.len(), "every 201 is one active seat");
        assert_eq!(active.len(), 10, "all ten seats sold exactly once");

        // One more buyer per seat: each is refused by PostgreSQL (Redis may
        // have forgotten the seat) and that refusal restores the real hold.
        for label in (1..=10).map(|n| format!("A{n}")) {
            let (status, body) = read(send(&state, book_request(&state, &event, &label)).await);
            assert_eq!(status, 409, "{body}");
        }
        let mut redis = state.redis().await.unwrap();
        let board: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(board_key(&EventId::parse(&event).unwrap()))
            .query_async(&mut redis)
            .await
            .unwrap();
        for (label, (booking, _)) in &active {
            let entry = board.get(label).unwrap_or_else(|| panic!("{label} missing from redis: {board:?}"));
            assert!(entry.contains(&booking.to_string()), "{label} held by {entry}, postgres says {booking}");
        }
    });
}

#[test]
fn mongo_down_is_a_503_and_accepted_bookings_are_reconciled_when_it_returns() {
    run(async {
        let port = free_port();
        let args = ["--db", "events.db", "--host", "127.0.0.1", "-p", &port.to_string()].map(str::to_owned);
        let mut mongo = Private::start(installed("nx-0.8.1/bin/nx-27017"), args.to_vec(), port);
        let state = isolated(|c| {
            c.mongo_url = Secret::new(format!("mongodb://127.0.0.1:{port}/?directConnection=true"));
            c.mongo_collection_prefix = format!("fault{}_", &Uuid::new_v4().simple().to_string()[..8]);
            c.redis_url = Secret::new("redis://127.0.0.1:6379/6");
        })
        .await;
        state.events().create_indexes().await.unwrap();
        let event = create_event(&state, 10, 30).await;
        // The seat map is cached per instance: warm it as traffic would.
        let seats_request = || api_request("GET", &format!("/events/{event}/seats"), None, &[]);
        assert_eq!(read(send(&state, seats_request()).await).0, 200);

        mongo.stop();
        let (status, body) = read(send(&state, api_request("GET", "/events", None, &[])).await);
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["error"]["code"], "SERVICE_UNAVAILABLE");
        assert!(!body.to_string().contains(&port.to_string()), "no connection detail leaks: {body}");

        // A booking is still accepted: PostgreSQL and Redis decide, and the
        // layout is cached.
        let (status, booked) = read(send(&state, book_request(&state, &event, "A1")).await);
        assert_eq!(status, 201, "{booked}");
        let id = booked["data"]["id"].as_str().unwrap().to_owned();
        let (payload,): (Value,) = sqlx::query_as(
            "SELECT payload FROM bookings_demo.outbox WHERE topic = 'booking.requested' AND payload->'data'->>'bookingId' = $1",
        )
        .bind(&id)
        .fetch_one(state.pg())
        .await
        .unwrap();
        let record = RawRecord {
            topic: format!("{}booking.requested", state.config.topic_prefix),
            partition: 0,
            offset: 0,
            key: Some(event.clone().into_bytes()),
            value: serde_json::to_vec(&payload).unwrap(),
        };
        let reserve = || deliver(&state, "seat-reserver", kafka_event(vec![record.clone()]));
        assert!(reserve().await.is_err(), "the batch fails while the read model is down, so it is retried");

        mongo.resume();
        let report = reserve().await.expect("the retried batch succeeds");
        assert_eq!(report["deadLettered"], 0);
        let held = state
            .events()
            .seats()
            .count_documents(doc! { "eventId": &event, "bookingId": &id, "status": "held" })
            .await
            .unwrap();
        assert_eq!(held, 1, "the read model caught up with the accepted booking");
        let (status, _) = read(send(&state, api_request("GET", "/events", None, &[])).await);
        assert_eq!(status, 200);
    });
}

/// Booking ids of the booking.requested messages on `topic` (partition 0,
/// from the start), read with a plain consumer outside any group.
fn requested_on_topic(config: &shared::config::Config, topic: &str) -> HashSet<String> {
    use rdkafka::{
        consumer::{BaseConsumer, Consumer},
        Message, Offset, TopicPartitionList,
    };
    let consumer: BaseConsumer = shared::kafka::client_config_for(config, &config.kafka_brokers)
        .set("group.id", format!("fault-reader-{}", Uuid::new_v4().simple()))
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut partitions = TopicPartitionList::new();
    partitions.add_partition_offset(topic, 0, Offset::Beginning).unwrap();
    consumer.assign(&partitions).unwrap();
    let mut ids = HashSet::new();
    let mut idle = 0;
    while idle < 10 {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(message)) => {
                idle = 0;
                let value: Value = serde_json::from_slice(message.payload().unwrap_or_default()).unwrap_or_default();
                if let Some(id) = value["data"]["bookingId"].as_str() {
                    ids.insert(id.to_owned());
                }
            }
            _ => idle += 1,
        }
    }
    ids
}

/// The broker stopped in the middle of traffic and came back empty (the
/// local broker keeps its log in memory, so a restart loses even messages
/// it had acknowledged): bookings keep being taken (only 201/409, no seat
/// twice), and the sweeper puts every booking's message back on the topic,
/// those taken during the outage and those the broker had acknowledged and
/// lost, because an outbox row is done only when its consumer applied it.
/// The broker comes back without its topics; the publisher recreates them.
#[test]
fn a_broker_restart_loses_no_booking_message_and_oversells_nothing() {
    run(async {
        let port = free_port();
        let listener = format!("tcp://127.0.0.1:{port}");
        let args = ["broker", "--listener-url", &listener, "--advertised-listener-url", &listener]
            .into_iter()
            .chain(["--storage-engine", "memory://tansu/"])
            .map(str::to_owned)
            .collect();
        let mut broker = Private::start(tansu_bin(), args, port);
        // A database of its own, emptied each run: its sweeps (which wait for
        // nothing) then publish only its own outbox rows, and the suite's
        // sweeps never hand its rows to the suite's consumers.
        let database = Secret::new("postgres://postgres:postgres@127.0.0.1:5432/ticketing_broker_fault_test");
        let mut own_database = crate::common::test_config();
        own_database.database_url = database.clone();
        shared::scratch::drop_scratch_database(&own_database).await.unwrap();
        shared::scratch::ensure_database(&own_database).await.unwrap();
        let state = Arc::new(
            isolated(|c| {
                c.database_url = database;
                c.kafka_brokers = format!("127.0.0.1:{port}");
                c.outbox_redeliver_after = Duration::ZERO;
            })
            .await,
        );
        shared::setup::migrate(&state).await.unwrap();
        let storm = |event: String, buyers: usize| {
            let state = state.clone();
            async move {
                let answers = join_all((0..buyers).map(|i| {
                    let (state, event) = (state.clone(), event.clone());
                    tokio::spawn(async move {
                        let req = book_request(&state, &event, &format!("A{}", i % 10 + 1));
                        read(send(&state, req).await)
                    })
                }))
                .await;
                let mut created = Vec::new();
                for (status, body) in answers.into_iter().map(Result::unwrap) {
                    assert!(matches!(status, 201 | 409), "only created or conflict, got {status}: {body}");
                    if status == 201 {
                        created.push(body["data"]["id"].as_str().unwrap().to_owned());
                    }
                }
                created
            }
        };

        // Before the outage: acknowledged by the broker, read by nobody.
        let before = create_event(&state, 10, 30).await;
        let mut created = storm(before.clone(), 30).await;
        assert_eq!(created.len(), 10);

        broker.stop();
        let during = create_event(&state, 10, 30).await;
        created.extend(storm(during.clone(), 30).await);
        assert_eq!(created.len(), 20, "the outage does not stop bookings");
        for event in [&before, &during] {
            assert_eq!(active_seats(&state, event).await.len(), 10);
        }

        // Back, and empty: no topics. Nobody recreates them here: the first
        // publish that finds them missing does (the sweep's relay below).
        broker.resume();
        let topic = format!("{}booking.requested", state.config.topic_prefix);
        let wanted: HashSet<String> = created.into_iter().collect();
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        loop {
            // A sweep can fail while the producer reconnects; the next one retries.
            let _ = shared::consumers::sweep(&state, std::time::Duration::from_secs(60)).await;
            let (config, topic) = (state.config.clone(), topic.clone());
            let on_topic = tokio::task::spawn_blocking(move || requested_on_topic(&config, &topic)).await.unwrap();
            let missing: Vec<&String> = wanted.difference(&on_topic).collect();
            if missing.is_empty() {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "still missing after the restart: {missing:?}");
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    });
}
