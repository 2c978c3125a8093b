//! Tokens that can be taken away (issue 32.3), keys that rotate (31.11), and
//! the fan's address behind CloudFront (31.5), against the real stores.

use std::time::{Duration, Instant};

use serde_json::json;
use shared::{config::Secret, domain::user::Role, http::ORIGIN_VERIFY_HEADER};
use uuid::Uuid;

use crate::common::{api_request, call, fan, from_ip, login, read, run, send, state, state_with, token_for, State};

/// Generous against ACCESS_CACHE_MS (5 s): the instance that made a change
/// forgets at once, others within the bound.
const DEADLINE: Duration = Duration::from_secs(20);

/// Polls `probe` until it answers `want` or the deadline passes; the last
/// status and body.
async fn until(want: u16, mut probe: impl AsyncFnMut() -> (u16, serde_json::Value)) -> (u16, serde_json::Value) {
    let started = Instant::now();
    loop {
        let (status, body) = probe().await;
        if status == want || started.elapsed() > DEADLINE {
            return (status, body);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn event_body() -> serde_json::Value {
    json!({
        "name": format!("Session test {}", Uuid::new_v4()), "venue": "Hall",
        "date": (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339(),
        "totalSeats": 10, "price": 20, "description": "d", "category": "test"
    })
}

#[test]
fn a_demoted_admins_old_token_can_no_longer_create_events_or_change_roles() {
    run(async {
        let state = state().await;
        let (demoted_id, other_admin_id) = (Uuid::new_v4(), Uuid::new_v4());
        let demoted = token_for(&state, demoted_id, Role::Admin);
        let other_admin = token_for(&state, other_admin_id, Role::Admin);
        let (status, body) = call(&state, "POST", "/events", Some(&demoted), Some(&event_body())).await;
        assert_eq!(status, 201, "an admin creates events: {body}");

        let (status, body) = call(
            &state,
            "PUT",
            &format!("/users/{demoted_id}/role"),
            Some(&other_admin),
            Some(&json!({"role": "user"})),
        )
        .await;
        assert_eq!(status, 200, "{body}");

        // The token still says admin; the store no longer does.
        let (status, body) =
            until(401, async || call(&state, "POST", "/events", Some(&demoted), Some(&event_body())).await).await;
        assert_eq!(status, 401, "a demoted admin's token is revoked: {body}");
        let victim = Uuid::new_v4();
        let _ = token_for(&state, victim, Role::Staff);
        let (status, body) =
            call(&state, "PUT", &format!("/users/{victim}/role"), Some(&demoted), Some(&json!({"role": "admin"})))
                .await;
        assert!(matches!(status, 401 | 403), "no promotions by a demoted admin: {status} {body}");

        // Even a fresh token (signed now, claiming admin, current version)
        // gets no admin power: the role comes from the store.
        let fresh = state
            .jwt
            .issue_versioned(demoted_id, "x@accounts.test", Role::Admin, shared::domain::user::Tier::Regular, 99)
            .unwrap();
        let (status, body) =
            call(&state, "POST", "/events", Some(&format!("Bearer {fresh}")), Some(&event_body())).await;
        assert_eq!(status, 403, "{body}");
    });
}

#[test]
fn a_door_staff_token_of_an_account_that_does_not_exist_is_refused() {
    run(async {
        let state = state().await;
        let now = chrono::Utc::now().timestamp();
        let claims = state.jwt.claims(Uuid::new_v4(), "ghost@x.test", Role::Admin, Default::default(), now, now + 60);
        let ghost = format!("Bearer {}", state.jwt.sign(&claims).unwrap());
        let (status, body) = call(&state, "POST", "/events", Some(&ghost), Some(&event_body())).await;
        assert_eq!(status, 401, "{body}");
    });
}

#[test]
fn logout_revokes_the_token_and_a_new_login_works() {
    run(async {
        let state = state().await;
        let (token, email) = fan(&state).await;
        assert_eq!(call(&state, "GET", "/bookings", Some(&token), None).await.0, 200);

        let (status, body) = call(&state, "POST", "/auth/logout", Some(&token), None).await;
        assert_eq!((status, &body["data"]), (200, &json!({ "loggedOut": true })), "{body}");
        let (status, body) = until(401, async || call(&state, "GET", "/bookings", Some(&token), None).await).await;
        assert_eq!(status, 401, "a logged-out token is refused: {body}");
        assert_eq!(call(&state, "POST", "/auth/logout", Some(&token), None).await.0, 401);

        let (status, again) = login(&state, &email, "a-long-password").await;
        assert_eq!(status, 200, "{again}");
        let token = format!("Bearer {}", again["data"]["token"].as_str().unwrap());
        assert_eq!(call(&state, "GET", "/bookings", Some(&token), None).await.0, 200, "the new login's token works");
        assert_eq!(call(&state, "POST", "/auth/logout", None, None).await.0, 401, "logout needs a token");
    });
}

#[test]
fn after_a_jwt_key_rotation_the_previous_keys_tokens_work_and_older_ones_do_not() {
    run(async {
        let (oldest, old, new) = ("o".repeat(40), "p".repeat(40), "n".repeat(40));
        let with_keys = |current: &str, previous: Option<&str>| {
            let (current, previous) = (current.to_owned(), previous.map(str::to_owned));
            state_with(move |config| {
                config.jwt_secret = Secret::new(current);
                config.jwt_previous_secret = previous.map(Secret::new);
            })
        };
        let before = with_keys(&old, Some(&oldest)).await;
        let signed_before = token_for(&before, Uuid::new_v4(), Role::User);
        let signed_long_ago = token_for(&with_keys(&oldest, None).await, Uuid::new_v4(), Role::User);

        let after = with_keys(&new, Some(&old)).await;
        assert_eq!(call(&after, "GET", "/bookings", Some(&signed_before), None).await.0, 200, "previous key");
        let signed_after = token_for(&after, Uuid::new_v4(), Role::User);
        assert_eq!(call(&after, "GET", "/bookings", Some(&signed_after), None).await.0, 200, "current key");
        assert_eq!(call(&after, "GET", "/bookings", Some(&signed_long_ago), None).await.0, 401, "retired key");
        let forged = token_for(&with_keys(&"f".repeat(40), None).await, Uuid::new_v4(), Role::User);
        assert_eq!(call(&after, "GET", "/bookings", Some(&forged), None).await.0, 401, "never signed by us");
    });
}

/// Registrations from `ip` carrying `headers`: whether each was taken
/// (`ok`: 201 or 202, whichever registration answers) or its status.
async fn register_from(state: &State, ip: &str, headers: &[(&str, &str)], times: usize) -> Vec<String> {
    let mut statuses = Vec::new();
    for _ in 0..times {
        let email = format!("limit-{}@example.test", Uuid::new_v4().simple());
        let body = json!({ "email": email, "name": "Fan", "password": "a long enough password" });
        let req = from_ip(api_request("POST", "/auth/register", Some(&body), headers), ip);
        let status = read(send(state, req).await).0;
        statuses.push(if matches!(status, 201 | 202) { "ok".to_owned() } else { status.to_string() });
    }
    statuses
}

#[test]
fn behind_cloudfront_the_limits_count_each_fan_and_a_forged_viewer_address_counts_the_caller() {
    run(async {
        let origin = "an-origin-secret-of-at-least-thirty-two-bytes";
        let state = state_with(|config| {
            config.registrations_per_ip_per_minute = 2;
            config.origin_verify_secrets = vec![Secret::new(origin)];
        })
        .await;
        // One CloudFront edge address (fresh per run), many fans behind it.
        let edge = format!("130.176.{}.{}", rand_octet(), rand_octet());
        for fan in 1..=3 {
            let viewer = format!("198.51.{}.{fan}:5{fan}000", rand_octet());
            let headers = [(ORIGIN_VERIFY_HEADER, origin), ("cloudfront-viewer-address", viewer.as_str())];
            assert_eq!(
                register_from(&state, &edge, &headers, 2).await,
                ["ok", "ok"],
                "fan {fan} has a limit of their own"
            );
        }
        // A direct caller naming a fresh viewer address each time, without
        // the secret (or with a wrong one), counts as itself.
        let caller = format!("203.0.{}.{}", rand_octet(), rand_octet());
        let mut statuses = Vec::new();
        for n in 0..3 {
            let viewer = format!("192.0.2.{n}:443");
            let wrong = "a-guess-at-the-origin-secret-32-bytes-long";
            let headers: Vec<(&str, &str)> = if n == 0 {
                vec![("cloudfront-viewer-address", viewer.as_str())]
            } else {
                vec![(ORIGIN_VERIFY_HEADER, wrong), ("cloudfront-viewer-address", viewer.as_str())]
            };
            statuses.extend(register_from(&state, &caller, &headers, 1).await);
        }
        assert_eq!(statuses, ["ok", "ok", "429"], "a forged CloudFront-Viewer-Address is ignored");
    });
}

fn rand_octet() -> u8 {
    (Uuid::new_v4().as_u128() % 250) as u8 + 1
}
