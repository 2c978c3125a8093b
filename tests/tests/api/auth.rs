use std::time::Duration;

use futures::future::join_all;
use serde_json::json;
use shared::auth::JwtKeys;

use crate::common::{
    api_request, from_ip, login, raw_body_request, read, register, run, send, state, state_with, unique_email, State,
};

async fn login_from(state: &State, ip: &str, email: &str, password: &str) -> u16 {
    let body = json!({ "email": email, "password": password });
    let req = from_ip(api_request("POST", "/auth/login", Some(&body), &[]), ip);
    send(state, req).await.status().as_u16()
}

#[test]
fn register_then_login_issues_a_token_with_the_users_claims() {
    run(async {
        let state = state().await;
        let email = unique_email("claims");
        let body = json!({ "email": email.to_uppercase(), "name": "Ada", "password": "correct-horse", "tier": "vip", "phone": "+447700900123" });
        let (status, registered) = read(send(&state, api_request("POST", "/auth/register", Some(&body), &[])).await);
        // The same answer as for an address that has an account (item 32.8):
        // nothing about the account, only "check your inbox".
        assert_eq!(status, 202, "{registered}");
        assert!(registered["data"]["message"].as_str().unwrap().contains("inbox"), "{registered}");
        assert!(registered["data"].get("id").is_none() && !registered.to_string().contains("argon2"));

        // Logging in does not wait for verification (booking mail does).
        let (status, session) = login(&state, &email, "correct-horse").await;
        assert_eq!(status, 200, "{session}");
        let user = &session["data"]["user"];
        assert_eq!(user["email"], email, "email is stored lower-cased");
        assert_eq!(user["tier"], "vip");
        assert_eq!(user["role"], "user");
        let claims = state.jwt.verify(session["data"]["token"].as_str().unwrap()).unwrap();
        assert_eq!(claims.sub.to_string(), user["id"].as_str().unwrap());
        assert_eq!(claims.email, email);
        assert_eq!(claims.tier, shared::domain::user::Tier::Vip);
        assert_eq!(claims.exp - claims.iat, state.config.jwt_ttl.as_secs() as i64);
    });
}

#[test]
fn registering_an_existing_email_answers_like_a_new_one_and_keeps_the_account() {
    run(async {
        let state = state().await;
        let email = unique_email("dup");
        let first = register(&state, &email, "password-1").await;
        assert_eq!(first.0, 202);
        let again = register(&state, &email.to_uppercase(), "password-2").await;
        assert_eq!(again, first, "a caller cannot tell whether the address had an account");
        // The account and its password are untouched.
        assert_eq!(login(&state, &email, "password-1").await.0, 200);
        assert_eq!(login(&state, &email, "password-2").await.0, 401);
    });
}

#[test]
fn missing_and_invalid_fields_are_named_in_a_400() {
    run(async {
        let state = state().await;
        let cases = [
            (json!({}), vec!["email", "name", "password"]),
            (json!({ "email": "nope", "name": "A", "password": "short" }), vec!["email", "password"]),
            (json!({ "email": 42, "name": "A", "password": "long-enough" }), vec!["email"]),
            (
                json!({ "email": unique_email("t"), "name": "A", "password": "long-enough", "tier": "gold" }),
                vec!["tier"],
            ),
            (
                json!({ "email": unique_email("p"), "name": "A", "password": "long-enough", "phone": "555" }),
                vec!["phone"],
            ),
        ];
        for (body, fields) in cases {
            let (status, response) = read(send(&state, api_request("POST", "/auth/register", Some(&body), &[])).await);
            assert_eq!(status, 400, "{body} → {response}");
            assert_eq!(response["error"]["code"], "VALIDATION_ERROR");
            let named: Vec<&str> =
                response["error"]["details"]["fields"].as_object().unwrap().keys().map(String::as_str).collect();
            assert_eq!(named, fields, "{body}");
        }
    });
}

#[test]
fn malformed_json_is_a_400_and_creates_nothing() {
    run(async {
        let state = state().await;
        let email = unique_email("malformed");
        for body in [
            format!("{{\"email\":\"{email}\",\"name\":\"A\",\"password\":\"12345678\""),
            "not json".into(),
            String::new(),
        ] {
            let (status, response) = read(send(&state, raw_body_request("/auth/register", body)).await);
            assert_eq!(status, 400, "{response}");
            assert_eq!(response["error"]["code"], "BAD_REQUEST");
        }
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM users_demo.users WHERE email = $1")
            .bind(&email)
            .fetch_one(state.pg())
            .await
            .unwrap();
        assert_eq!(count, 0);
    });
}

#[test]
fn bodies_over_one_mebibyte_are_a_413_in_the_handler() {
    run(async {
        let state = state().await;
        let huge = format!("{{\"email\":\"a@b.co\",\"name\":\"{}\"}}", "x".repeat(1024 * 1024));
        let (status, response) = read(send(&state, raw_body_request("/auth/register", huge)).await);
        assert_eq!(status, 413);
        assert_eq!(response["error"]["code"], "PAYLOAD_TOO_LARGE");
    });
}

#[test]
fn wrong_password_and_unknown_email_get_the_same_401() {
    run(async {
        let state = state().await;
        let email = unique_email("wrongpw");
        register(&state, &email, "the-right-one").await;
        let (status_wrong, wrong) = login(&state, &email, "the-wrong-one").await;
        let (status_unknown, unknown) = login(&state, &unique_email("ghost"), "the-wrong-one").await;
        assert_eq!((status_wrong, status_unknown), (401, 401));
        assert_eq!(wrong, unknown);
    });
}

#[test]
fn repeated_failed_logins_lock_the_email_until_the_window_passes() {
    run(async {
        let state = state_with(|c| {
            c.login_max_failures = 3;
            c.login_lockout_window = Duration::from_secs(2);
        })
        .await;
        let email = unique_email("lockout");
        register(&state, &email, "the-right-one").await;
        for _ in 0..3 {
            assert_eq!(login(&state, &email, "guess-guess").await.0, 401);
        }
        // Locked: even the right password is refused, with Retry-After.
        let body = json!({ "email": email, "password": "the-right-one" });
        let response = send(&state, api_request("POST", "/auth/login", Some(&body), &[])).await;
        assert_eq!(response.status(), 429);
        let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=2).contains(&retry_after), "retry-after {retry_after}");

        // The lock ends by itself; poll up to a generous deadline.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let (status, _) = login(&state, &email, "the-right-one").await;
            if status == 200 {
                break;
            }
            assert_eq!(status, 429);
            assert!(tokio::time::Instant::now() < deadline, "lockout never expired");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });
}

#[test]
fn a_successful_login_resets_the_failure_count() {
    run(async {
        let state = state_with(|c| c.login_max_failures = 3).await;
        let email = unique_email("reset");
        register(&state, &email, "the-right-one").await;
        for _ in 0..2 {
            login(&state, &email, "nope-nope").await;
        }
        assert_eq!(login(&state, &email, "the-right-one").await.0, 200);
        for _ in 0..2 {
            assert_eq!(login(&state, &email, "nope-nope").await.0, 401);
        }
        assert_eq!(login(&state, &email, "the-right-one").await.0, 200);
    });
}

#[test]
fn one_hundred_concurrent_registrations_of_one_email_create_exactly_one_user() {
    run(async {
        let state = state().await;
        let email = unique_email("race");
        let attempts = (0..100).map(|i| {
            let state = state.clone();
            let email = email.clone();
            tokio::spawn(async move { register(&state, &email, &format!("password-{i}")).await.0 })
        });
        let statuses: Vec<u16> = join_all(attempts).await.into_iter().map(Result::unwrap).collect();
        assert!(statuses.iter().all(|s| *s == 202), "one answer for all: {statuses:?}");
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM users_demo.users WHERE email = $1")
            .bind(&email)
            .fetch_one(state.pg())
            .await
            .unwrap();
        assert_eq!(count, 1);
    });
}

#[test]
fn tokens_from_another_key_are_not_accepted_by_this_deployment() {
    run(async {
        let state = state().await;
        let email = unique_email("forged");
        register(&state, &email, "password-ok").await;
        let (_, session) = login(&state, &email, "password-ok").await;
        let token = session["data"]["token"].as_str().unwrap();
        let config = &state.config;
        let other = JwtKeys::new(
            &shared::config::Secret::new("z".repeat(48)),
            Duration::from_secs(60),
            &config.jwt_issuer,
            &config.jwt_audience,
        );
        assert!(other.verify(token).is_err());
        assert!(state.jwt.verify(token).is_ok());
    });
}

/// A guesser who knows the email must not be able to lock its owner out:
/// the lock is per email *and* address.
#[test]
fn failed_logins_from_one_address_do_not_lock_the_owner_out_elsewhere() {
    run(async {
        let state = state_with(|c| c.login_max_failures = 3).await;
        let email = unique_email("victim");
        register(&state, &email, "the-right-one").await;
        for _ in 0..3 {
            assert_eq!(login_from(&state, "198.51.100.66", &email, "guess-guess").await, 401);
        }
        assert_eq!(login_from(&state, "198.51.100.66", &email, "the-right-one").await, 429, "the guesser is locked");
        assert_eq!(login_from(&state, "192.0.2.10", &email, "the-right-one").await, 200, "the owner is not");
    });
}

/// The account-wide ceiling counts only guesses that reached the password
/// check: hammering from one address past its own lock adds nothing to it,
/// so the owner still logs in from elsewhere (it once counted every refused
/// attempt, and ~100 guesses from one address locked the owner out).
#[test]
fn a_guesser_hammering_from_one_address_never_locks_the_owner_out() {
    run(async {
        let state = state_with(|c| {
            c.login_max_failures = 3;
            c.login_account_max_failures = 10;
        })
        .await;
        let email = unique_email("hammered");
        register(&state, &email, "the-right-one").await;
        let guesser = fresh_ip();
        let mut statuses = Vec::new();
        for i in 0..40 {
            statuses.push(login_from(&state, &guesser, &email, &format!("guess-{i}")).await);
        }
        assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 3, "{statuses:?}");
        assert_eq!(login_from(&state, &fresh_ip(), &email, "the-right-one").await, 200, "the owner is not locked out");
    });
}

/// Attempts are counted before the password is checked, so parallel guesses
/// see each other and no more than the limit ever reach the hash check.
#[test]
fn parallel_guesses_never_get_more_tries_than_the_limit() {
    run(async {
        let state = std::sync::Arc::new(state_with(|c| c.login_max_failures = 3).await);
        let email = unique_email("parallel");
        register(&state, &email, "the-right-one").await;
        let guesses = (0..20).map(|i| {
            let (state, email) = (state.clone(), email.clone());
            tokio::spawn(async move { login_from(&state, "198.51.100.7", &email, &format!("guess-{i}")).await })
        });
        let statuses: Vec<u16> = join_all(guesses).await.into_iter().map(Result::unwrap).collect();
        assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 3, "{statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 17, "{statuses:?}");
    });
}

#[test]
fn an_email_guessed_from_many_addresses_hits_the_account_ceiling() {
    run(async {
        let state = state_with(|c| {
            c.login_max_failures = 3;
            c.login_account_max_failures = 5;
        })
        .await;
        let email = unique_email("spread");
        register(&state, &email, "the-right-one").await;
        for i in 0..5 {
            assert_eq!(login_from(&state, &format!("198.51.100.{i}"), &email, "guess-guess").await, 401);
        }
        assert_eq!(login_from(&state, "198.51.100.200", &email, "guess-guess").await, 429);
    });
}

#[test]
fn one_address_trying_many_emails_is_limited() {
    run(async {
        let state = state_with(|c| c.login_ip_max_attempts = 4).await;
        let (sprayer, other) = (fresh_ip(), fresh_ip());
        for i in 0..4 {
            let status = login_from(&state, &sprayer, &unique_email(&format!("spray{i}")), "guess-guess").await;
            assert_eq!(status, 401);
        }
        assert_eq!(login_from(&state, &sprayer, &unique_email("spray"), "guess-guess").await, 429);
        assert_eq!(login_from(&state, &other, &unique_email("other"), "guess-guess").await, 401);
    });
}

#[test]
fn registrations_from_one_address_are_rate_limited_with_retry_after() {
    run(async {
        let state = state_with(|c| c.registrations_per_ip_per_minute = 2).await;
        let ip = fresh_ip();
        let attempt = |email: String| {
            let body = json!({ "email": email, "name": "R", "password": "password-ok" });
            from_ip(api_request("POST", "/auth/register", Some(&body), &[]), &ip)
        };
        for i in 0..2 {
            let response = send(&state, attempt(unique_email(&format!("rate{i}")))).await;
            assert_eq!(response.status(), 202);
        }
        let email = unique_email("rate-over");
        let response = send(&state, attempt(email.clone())).await;
        assert_eq!(response.status(), 429);
        let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry_after), "{retry_after}");
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM users_demo.users WHERE email = $1")
            .bind(&email)
            .fetch_one(state.pg())
            .await
            .unwrap();
        assert_eq!(count, 0, "a refused registration creates nothing");
    });
}

/// An address (from the IPv6 documentation range) no earlier run used, so
/// per-address counters left in Redis by a previous run never interfere.
fn fresh_ip() -> String {
    let n = uuid::Uuid::new_v4().as_u128();
    // Distinct /64s: addresses of one /64 count as one client.
    format!("2001:db8:{:x}:{:x}::1", (n >> 16) as u16, n as u16)
}
