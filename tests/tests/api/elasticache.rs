//! The Redis code against a server shaped like ElastiCache in production:
//! cluster mode (slot routing, MOVED-aware client) and TLS only, with a
//! private CA. `local/stack.sh` starts it on 6390 with its CA in the
//! install cache.

use serde_json::json;
use shared::{
    config::Secret,
    domain::{
        event::{EventId, SeatStatus},
        user::{Email, Role},
    },
    repo::{LoginThrottle, SeatBoard, SeatHolds},
};
use uuid::Uuid;

use crate::common::{api_request, call, create_event, installed, read, run, send, state_with, token_for, State};

const CLUSTER_URL: &str = "rediss://127.0.0.1:6390";

fn local_ca() -> String {
    installed("redis-tls/ca.crt").to_string_lossy().into_owned()
}

async fn cluster_state() -> State {
    state_with(|config| {
        config.redis_url = Secret::new(CLUSTER_URL);
        config.redis_cluster = true;
        config.redis_ca_file = Some(local_ca());
    })
    .await
}

#[test]
fn holds_are_all_or_nothing_and_owner_checked_on_a_tls_cluster() {
    run(async {
        let state = cluster_state().await;
        let board = state.seat_board().await.expect("TLS cluster connection");
        let event = EventId::parse(&Uuid::new_v4().simple().to_string()).unwrap();
        let later = chrono::Utc::now().timestamp_millis() + 60_000;
        let seats = |labels: &[&str]| labels.iter().map(|l| l.to_string()).collect::<Vec<_>>();

        assert!(board.hold(&event, "b1", &seats(&["A1", "A2"]), later).await.unwrap().is_empty());
        assert_eq!(board.hold(&event, "b2", &seats(&["A2", "A3"]), later).await.unwrap(), ["A2"]);
        assert_eq!(board.live(&event).await.unwrap().get("A3"), None, "nothing of a refused hold stays");
        assert_eq!(board.release(&event, "b2", &seats(&["A1", "A2"])).await.unwrap(), 0, "not b2's seats");
        assert!(board.confirm(&event, "b1", &seats(&["A1", "A2"])).await.unwrap().is_empty());
        let live = board.live(&event).await.unwrap();
        assert_eq!(live.get("A1"), Some(&SeatStatus::Booked));

        // Several events (several hash slots) read at once.
        let other = EventId::parse(&Uuid::new_v4().simple().to_string()).unwrap();
        board.hold(&other, "b3", &seats(&["Z9"]), later).await.unwrap();
        let both = board.live_many(&[event.clone(), other]).await.unwrap();
        assert_eq!(both[0].len(), 2);
        assert_eq!(both[1].get("Z9"), Some(&SeatStatus::Held));
    });
}

#[test]
fn login_lockout_counts_on_a_tls_cluster() {
    run(async {
        let state = cluster_state().await;
        let throttle = state.login_throttle().await.unwrap();
        let email = Email::parse(&format!("cluster-{}@example.test", Uuid::new_v4().simple())).unwrap();
        // The two per-email keys share the email's hash tag: one script, one slot.
        for _ in 0..state.config.login_max_failures {
            assert!(throttle.attempt(&email, "198.51.100.1").await.unwrap().is_none());
        }
        assert!(throttle.attempt(&email, "198.51.100.1").await.unwrap().is_some());
        assert!(throttle.attempt(&email, "198.51.100.2").await.unwrap().is_none(), "another address is not locked");
        throttle.succeeded(&email, "198.51.100.1").await.unwrap();
        assert!(throttle.attempt(&email, "198.51.100.1").await.unwrap().is_none());
    });
}

#[test]
fn a_booking_through_the_handler_holds_its_seats_on_the_cluster() {
    run(async {
        let state = cluster_state().await;
        let event = create_event(&state, 20, 30).await;
        let token = token_for(&state, Uuid::new_v4(), Role::User);
        let body = json!({ "eventId": event, "seatIds": [format!("{event}_A1"), format!("{event}_A2")] });
        let req = api_request("POST", "/bookings", Some(&body), &[("authorization", &token)]);
        let (status, booked) = read(send(&state, req).await);
        assert_eq!(status, 201, "{booked}");

        let rival = token_for(&state, Uuid::new_v4(), Role::User);
        let body = json!({ "eventId": event, "seatIds": [format!("{event}_A2")] });
        let req = api_request("POST", "/bookings", Some(&body), &[("authorization", &rival)]);
        let (status, refused) = read(send(&state, req).await);
        assert_eq!(status, 409, "{refused}");

        let (status, map) = call(&state, "GET", &format!("/events/{event}/seats"), None, None).await;
        assert_eq!(status, 200, "{map}");
        assert_eq!(map["data"]["availability"]["held"], 2, "{map}");
    });
}

#[test]
fn a_wrong_ca_is_refused() {
    run(async {
        let state = state_with(|config| {
            config.redis_url = Secret::new(CLUSTER_URL);
            config.redis_cluster = true;
        })
        .await;
        // The system roots do not know the local CA: the TLS handshake fails
        // and the request is a 503, not a silent plaintext fallback.
        let err = state.seat_board().await.err().expect("untrusted certificate refused");
        assert_eq!(err.status().as_u16(), 503, "{err:?}");
    });
}
