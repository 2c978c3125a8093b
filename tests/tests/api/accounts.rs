//! Account mail against the real stores and the local inbox (MailDev):
//! registration proves the address with a link, booking mail waits for that
//! proof, registering a taken address answers like a new one and tells the
//! owner, and a reset link sets one password once, however many use it at
//! the same moment. Also door staff per event (issue 32, items 7 to 9).

use serde_json::{json, Value};
use shared::{
    account_links::{fingerprint, Purpose},
    consumers::{kafka_event, RawRecord},
    domain::user::Role,
    kafka::Envelope,
    messages::BookingMessage,
};
use uuid::Uuid;

use crate::common::*;

/// The token of the `page` link (`verify` or `reset`) in a message's text.
fn link_token(mail: &Value, page: &str) -> String {
    let text = mail["text"].as_str().unwrap();
    let marker = format!("/#/{page}/");
    let start = text.find(&marker).unwrap_or_else(|| panic!("no {page} link in:\n{text}")) + marker.len();
    text[start..].split_whitespace().next().unwrap().to_owned()
}

fn subjects(inbox: &[Value]) -> Vec<String> {
    inbox.iter().map(|m| m["subject"].as_str().unwrap_or_default().to_owned()).collect()
}

async fn user_id(state: &State, email: &str) -> Uuid {
    sqlx::query_scalar("SELECT id FROM users_demo.users WHERE email = $1")
        .bind(email)
        .fetch_one(state.pg())
        .await
        .unwrap()
}

async fn verified(state: &State, email: &str) -> bool {
    sqlx::query_scalar("SELECT email_verified_at IS NOT NULL FROM users_demo.users WHERE email = $1")
        .bind(email)
        .fetch_one(state.pg())
        .await
        .unwrap()
}

async fn bearer(state: &State, email: &str, password: &str) -> String {
    // Boxed: the in-process gateway's future is too deep to lay out inline
    // one async fn further down.
    let (status, session) = Box::pin(login(state, email, password)).await;
    assert_eq!(status, 200, "{session}");
    format!("Bearer {}", session["data"]["token"].as_str().unwrap())
}

/// booking.confirmed for `booking`, as MSK delivers it to the notifier.
fn confirmed(state: &State, booking: &str) -> aws_lambda_events::event::kafka::KafkaEvent {
    let booking_id = Uuid::parse_str(booking).unwrap();
    let topic = shared::kafka::BOOKING_CONFIRMED;
    let data = BookingMessage {
        booking_id,
        event_id: "00000000-0000-0000-0000-000000000000".to_owned(),
        ..BookingMessage::default()
    };
    let mut message = Envelope::new(topic, data);
    message.id = Uuid::new_v5(&booking_id, topic.as_bytes());
    kafka_event(vec![RawRecord {
        topic: format!("{}{topic}", state.config.topic_prefix),
        partition: 0,
        offset: 0,
        key: Some(booking.as_bytes().to_vec()),
        value: message.to_bytes().unwrap(),
    }])
}

async fn notice_state(state: &State, booking: &str) -> Option<(String, Option<String>)> {
    sqlx::query_as(
        "SELECT state, last_error FROM bookings_demo.notifications WHERE booking_id = $1::uuid AND kind = 'CONFIRMED'",
    )
    .bind(booking)
    .fetch_optional(state.pg())
    .await
    .unwrap()
}

#[test]
fn tickets_are_mailed_only_once_the_fan_follows_the_verification_link() {
    run(async {
        let state = state().await;
        let email = unique_email("unproven");
        assert_eq!(register(&state, &email, "a-long-password").await.0, 202);
        let inbox = inbox_settles_at(&email, 1).await;
        assert_eq!(subjects(&inbox), ["Verify your e-mail address"]);
        // Nothing the fan typed reaches the mail: not the name in To, not a greeting.
        assert!(!inbox[0].to_string().contains("Test User"), "{}", inbox[0]);
        assert!(!verified(&state, &email).await);

        // Unverified, the fan can log in, book and pay; the tickets are in
        // the account, and the confirmation is not mailed.
        let token = bearer(&state, &email, "a-long-password").await;
        let event = create_event(&state, 20, 30).await;
        let booking = book(&state, &token, &event, &["A1"]).await;
        pay(&state, &token, &booking).await;
        let report = deliver(&state, "notifier", confirmed(&state, &booking)).await.unwrap();
        let (ledger, why) = notice_state(&state, &booking).await.unwrap_or_else(|| panic!("no ledger row: {report}"));
        assert_eq!((ledger.as_str(), why.as_deref()), ("SKIPPED", Some("address not verified")));
        let (status, tickets) = call(&state, "GET", &format!("/bookings/{booking}/tickets"), Some(&token), None).await;
        assert_eq!(status, 200, "{tickets}");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        assert_eq!(subjects(&inbox_of(&email).await), ["Verify your e-mail address"], "no ticket mail");

        // The link from the mail proves the address; following it twice is harmless.
        let link = link_token(&inbox[0], "verify");
        for _ in 0..2 {
            let (status, body) = call(&state, "POST", "/auth/verify", None, Some(&json!({ "token": link }))).await;
            assert_eq!((status, body["data"]["emailVerified"].as_bool()), (200, Some(true)), "{body}");
        }
        assert!(verified(&state, &email).await);
        // The next booking's tickets are mailed.
        let second = book(&state, &token, &event, &["A2"]).await;
        pay(&state, &token, &second).await;
        deliver(&state, "notifier", confirmed(&state, &second)).await.unwrap();
        let inbox = inbox_settles_at(&email, 2).await;
        assert!(subjects(&inbox).iter().any(|s| s.starts_with("Your tickets for ")), "{:?}", subjects(&inbox));
        let tickets = inbox.iter().find(|m| m["subject"].as_str().unwrap().starts_with("Your tickets")).unwrap();
        assert_eq!(tickets["to"][0]["name"].as_str().unwrap_or_default(), "", "a bare address in To");
        assert!(!tickets["text"].as_str().unwrap().contains("Test User"));
    });
}

#[test]
fn registering_a_taken_address_answers_the_same_and_mails_its_owner_a_way_back() {
    run(async {
        let state = state().await;
        let email = unique_email("taken");
        let body = |name: &str, password: &str| json!({ "email": email, "name": name, "password": password });
        let first = call(&state, "POST", "/auth/register", None, Some(&body("Owner", "owners-password"))).await;
        let second =
            call(&state, "POST", "/auth/register", None, Some(&body("<b>Squatter</b>", "other-password"))).await;
        assert_eq!(first.0, 202);
        assert_eq!(second, first, "the caller learns nothing about the address");

        let inbox = inbox_settles_at(&email, 2).await;
        assert_eq!(subjects(&inbox), ["Verify your e-mail address", "You already have a Box Office account"]);
        assert!(!inbox[1].to_string().contains("Squatter"), "{}", inbox[1]);
        // The owner's way back: the reset link in the note works.
        let link = link_token(&inbox[1], "reset");
        let reset = json!({ "token": link, "password": "a-fresh-password" });
        let (status, answer) = call(&state, "POST", "/auth/password-reset/confirm", None, Some(&reset)).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(login(&state, &email, "a-fresh-password").await.0, 200);
        assert!(verified(&state, &email).await, "a reset link proves the address too");
    });
}

#[test]
fn a_password_reset_answers_alike_for_every_address_and_its_link_works_once() {
    run(async {
        let state = state().await;
        let email = unique_email("forgot");
        assert_eq!(register(&state, &email, "old-password-1").await.0, 202);
        inbox_settles_at(&email, 1).await;
        let nobody = unique_email("nobody");
        let ask = |address: String| async move {
            call(
                &*crate::common::state().await,
                "POST",
                "/auth/password-reset",
                None,
                Some(&json!({ "email": address })),
            )
            .await
        };
        let (known, unknown) = (ask(email.to_uppercase()).await, ask(nobody.clone()).await);
        assert_eq!(known.0, 202, "{}", known.1);
        assert_eq!(known, unknown, "one answer whether or not the account exists");
        let inbox = inbox_settles_at(&email, 2).await;
        assert_eq!(subjects(&inbox)[1], "Reset your Box Office password");
        assert!(inbox_of(&nobody).await.is_empty(), "nothing is mailed to an address with no account");

        // A session from before the reset, as whoever had the old password holds it.
        let (status, session) = login(&state, &email, "old-password-1").await;
        assert_eq!(status, 200, "{session}");
        let before = format!("Bearer {}", session["data"]["token"].as_str().unwrap());
        assert_eq!(call(&state, "GET", "/bookings", Some(&before), None).await.0, 200);

        let link = link_token(&inbox[1], "reset");
        let confirm = |password: &str| json!({ "token": link, "password": password });
        // Too short a password spends nothing.
        let (status, body) = call(&state, "POST", "/auth/password-reset/confirm", None, Some(&confirm("short"))).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("VALIDATION_ERROR")), "{body}");
        let (status, body) =
            call(&state, "POST", "/auth/password-reset/confirm", None, Some(&confirm("new-password-2"))).await;
        assert_eq!(status, 200, "{body}");
        // The reset signs every older session out (within the access cache's bound).
        eventually(10, "the pre-reset token to be refused", || {
            let (state, before) = (state.clone(), before.clone());
            async move { call(&state, "GET", "/bookings", Some(&before), None).await.0 == 401 }
        })
        .await;
        assert_eq!(login(&state, &email, "new-password-2").await.0, 200);
        assert_eq!(login(&state, &email, "old-password-1").await.0, 401);
        // Used once: spent.
        let (status, body) =
            call(&state, "POST", "/auth/password-reset/confirm", None, Some(&confirm("new-password-3"))).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("LINK_INVALID")), "{body}");
        assert_eq!(login(&state, &email, "new-password-2").await.0, 200);
    });
}

#[test]
fn ten_concurrent_confirms_of_one_reset_link_set_exactly_one_password() {
    run(async {
        let state = state().await;
        let email = unique_email("race-reset");
        assert_eq!(register(&state, &email, "old-password-1").await.0, 202);
        let id = user_id(&state, &email).await;
        let hash: String = sqlx::query_scalar("SELECT password_hash FROM users_demo.users WHERE id = $1")
            .bind(id)
            .fetch_one(state.pg())
            .await
            .unwrap();
        let link = state.links.sign(Purpose::ResetPassword, id, &email, Some(fingerprint(&hash))).unwrap();
        let confirms = (0..10).map(|i| {
            let (state, link) = (state.clone(), link.clone());
            tokio::spawn(async move {
                let body = json!({ "token": link, "password": format!("racing-password-{i}") });
                let (status, body) = call(&state, "POST", "/auth/password-reset/confirm", None, Some(&body)).await;
                (i, status, body["error"]["code"].as_str().map(str::to_owned))
            })
        });
        let answers: Vec<_> = futures::future::join_all(confirms).await.into_iter().map(Result::unwrap).collect();
        let winners: Vec<_> = answers.iter().filter(|(_, status, _)| *status == 200).collect();
        assert_eq!(winners.len(), 1, "{answers:?}");
        for (_, status, code) in answers.iter().filter(|(_, status, _)| *status != 200) {
            assert_eq!((*status, code.as_deref()), (400, Some("LINK_INVALID")), "{answers:?}");
        }
        // The winner's password is the one that holds.
        let winner = winners[0].0;
        assert_eq!(login(&state, &email, &format!("racing-password-{winner}")).await.0, 200);
        let loser = (winner + 1) % 10;
        assert_eq!(login(&state, &email, &format!("racing-password-{loser}")).await.0, 401);
    });
}

#[test]
fn forged_expired_and_misdirected_links_are_refused() {
    run(async {
        let state = state().await;
        let email = unique_email("forged");
        assert_eq!(register(&state, &email, "the-password-1").await.0, 202);
        let id = user_id(&state, &email).await;
        let now = chrono::Utc::now().timestamp();
        let verify = |token: String| async move {
            call(&*crate::common::state().await, "POST", "/auth/verify", None, Some(&json!({ "token": token }))).await
        };
        let expired = state.links.sign_at(Purpose::VerifyEmail, id, &email, None, now - 2 * 86_400).unwrap();
        assert_eq!(verify(expired).await.1["error"]["code"], "LINK_EXPIRED");
        // Another deployment's key, and a login token, are no links.
        let foreign = shared::account_links::LinkSigner::new(
            &shared::config::Secret::new("k".repeat(40)),
            &state.config.jwt_issuer,
            &state.config.jwt_audience,
        )
        .sign(Purpose::VerifyEmail, id, &email, None)
        .unwrap();
        assert_eq!(verify(foreign).await.1["error"]["code"], "LINK_INVALID");
        let session = bearer(&state, &email, "the-password-1").await;
        assert_eq!(verify(session.trim_start_matches("Bearer ").to_owned()).await.1["error"]["code"], "LINK_INVALID");
        // A genuine link for an address the account does not have.
        let elsewhere = state.links.sign(Purpose::VerifyEmail, id, "someone-else@example.test", None).unwrap();
        assert_eq!(verify(elsewhere).await.1["error"]["code"], "LINK_INVALID");
        assert!(!verified(&state, &email).await, "none of them verified the address");

        // A reset link issued against an older password is spent.
        let stale = state.links.sign(Purpose::ResetPassword, id, &email, Some(fingerprint("an older hash"))).unwrap();
        let body = json!({ "token": stale, "password": "hijacked-password" });
        let (status, answer) = call(&state, "POST", "/auth/password-reset/confirm", None, Some(&body)).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (400, Some("LINK_INVALID")));
        // A verification link is not a reset link.
        let verify_link = state.links.sign(Purpose::VerifyEmail, id, &email, None).unwrap();
        let body = json!({ "token": verify_link, "password": "hijacked-password" });
        assert_eq!(call(&state, "POST", "/auth/password-reset/confirm", None, Some(&body)).await.0, 400);
        assert_eq!(login(&state, &email, "hijacked-password").await.0, 401);
    });
}

#[test]
fn a_fan_can_ask_for_another_verification_link_once_a_minute() {
    run(async {
        let state = state().await;
        let email = unique_email("resend");
        assert_eq!(register(&state, &email, "the-password-1").await.0, 202);
        inbox_settles_at(&email, 1).await;
        assert_eq!(call(&state, "POST", "/auth/verify/resend", None, None).await.0, 401);
        let token = bearer(&state, &email, "the-password-1").await;
        // Registration's mail was this minute's.
        let (status, body) = call(&state, "POST", "/auth/verify/resend", Some(&token), None).await;
        assert_eq!((status, body["error"]["code"].as_str()), (429, Some("TOO_MANY_REQUESTS")), "{body}");
        verify_directly(&state, &email).await;
        let (status, body) = call(&state, "POST", "/auth/verify/resend", Some(&token), None).await;
        assert_eq!((status, body["data"]["emailVerified"].as_bool()), (200, Some(true)), "{body}");
        assert_eq!(inbox_of(&email).await.len(), 1, "nothing more was sent");
    });
}

#[test]
fn door_staff_admit_only_at_the_events_an_admin_assigned_them_to() {
    run(async {
        let state = state().await;
        let email = unique_email("gate");
        assert_eq!(register(&state, &email, "gate-password").await.0, 202);
        let id = user_id(&state, &email).await;
        let admin = token_for(&state, Uuid::new_v4(), Role::Admin);
        let (event, other_event) = (create_event(&state, 20, 30).await, create_event(&state, 20, 30).await);
        let assign = |event: &str, user: Uuid| format!("/events/{event}/staff/{user}");

        // A plain user cannot be assigned; an unknown user or event is a 404.
        let (status, body) = call(&state, "PUT", &assign(&event, id), Some(&admin), None).await;
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("NOT_STAFF")), "{body}");
        let role = json!({ "role": "staff" });
        assert_eq!(call(&state, "PUT", &format!("/users/{id}/role"), Some(&admin), Some(&role)).await.0, 200);
        assert_eq!(call(&state, "PUT", &assign(&event, Uuid::new_v4()), Some(&admin), None).await.0, 404);
        assert_eq!(call(&state, "PUT", &assign("no-such-event", id), Some(&admin), None).await.0, 404);
        // Only an admin assigns: not the staff member themselves, not a fan.
        let staff = bearer(&state, &email, "gate-password").await;
        let (fan_token, _) = fan(&state).await;
        for token in [&staff, &fan_token] {
            assert_eq!(call(&state, "PUT", &assign(&event, id), Some(token), None).await.0, 403);
            assert_eq!(call(&state, "DELETE", &assign(&event, id), Some(token), None).await.0, 403);
        }
        let (status, body) = call(&state, "PUT", &assign(&event, id), Some(&admin), None).await;
        assert_eq!((status, body["data"]["created"].as_bool()), (200, Some(true)), "{body}");
        let (status, body) = call(&state, "PUT", &assign(&event, id), Some(&admin), None).await;
        assert_eq!((status, body["data"]["created"].as_bool()), (200, Some(false)), "idempotent: {body}");

        // Assigned to `event`, not to `other_event`: the scan is refused
        // there before the ticket is even looked at, and admits nothing.
        let booking = book(&state, &fan_token, &other_event, &["A1"]).await;
        pay(&state, &fan_token, &booking).await;
        let (_, tickets) = call(&state, "GET", &format!("/bookings/{booking}/tickets"), Some(&fan_token), None).await;
        let code = tickets["data"]["tickets"][0]["code"].as_str().unwrap().to_owned();
        let scan = json!({ "code": code, "gate": "north" });
        let door = format!("/events/{other_event}/checkin");
        let (status, body) = call(&state, "POST", &door, Some(&staff), Some(&scan)).await;
        assert_eq!((status, body["error"]["code"].as_str()), (403, Some("NOT_ASSIGNED")), "{body}");
        let admitted: i64 =
            sqlx::query_scalar("SELECT count(*) FROM bookings_demo.checkins WHERE booking_id = $1::uuid")
                .bind(&booking)
                .fetch_one(state.pg())
                .await
                .unwrap();
        assert_eq!(admitted, 0);
        // Assigned there too, they admit; unassigned again, they cannot.
        assert_eq!(call(&state, "PUT", &assign(&other_event, id), Some(&admin), None).await.0, 200);
        assert_eq!(call(&state, "POST", &door, Some(&staff), Some(&scan)).await.0, 200);
        assert_eq!(call(&state, "DELETE", &assign(&other_event, id), Some(&admin), None).await.0, 204);
        assert_eq!(call(&state, "DELETE", &assign(&other_event, id), Some(&admin), None).await.0, 204, "idempotent");
        let (status, body) = call(&state, "POST", &door, Some(&staff), Some(&scan)).await;
        assert_eq!((status, body["error"]["code"].as_str()), (403, Some("NOT_ASSIGNED")), "{body}");
        // An admin may still admit anywhere (here: already admitted).
        assert_eq!(call(&state, "POST", &door, Some(&admin), Some(&scan)).await.0, 409);
    });
}
