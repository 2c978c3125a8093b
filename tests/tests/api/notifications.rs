//! The notifier against the real stores and the real local mail server
//! (MailDev, which `make test` starts): what a buyer finds in the inbox,
//! read back through MailDev's REST API, and the PostgreSQL ledger that
//! keeps it to one message per booking and kind.

use std::time::Duration;

use shared::{
    config::MailTransport,
    consumers::{kafka_event, RawRecord},
    domain::notice::NoticeKind,
    kafka::Envelope,
    messages::BookingMessage,
    repo::{pg_notices::PgNotices, NoticeClaim, NoticeEnd, NoticeLedger},
};
use uuid::Uuid;

use crate::common::*;

/// A batch of one `topic` record about `booking`, as MSK would deliver it.
/// The message id follows from the booking and topic, so calling this again
/// is a redelivery of the same record, not a new message.
fn delivery(state: &State, topic: &str, booking: &str, offset: i64) -> aws_lambda_events::event::kafka::KafkaEvent {
    let booking_id = Uuid::parse_str(booking).unwrap();
    let data = BookingMessage {
        booking_id,
        event_id: "00000000-0000-0000-0000-000000000000".to_owned(),
        seats: Vec::new(),
        ..BookingMessage::default()
    };
    let mut message = Envelope::new(topic, data);
    message.id = Uuid::new_v5(&booking_id, topic.as_bytes());
    let record = RawRecord {
        topic: format!("{}{topic}", state.config.topic_prefix),
        partition: 0,
        offset,
        key: Some(booking.as_bytes().to_vec()),
        value: message.to_bytes().unwrap(),
    };
    kafka_event(vec![record])
}

async fn ledger_row(state: &State, booking: &str, kind: NoticeKind) -> Option<(String, i32, Option<String>)> {
    sqlx::query_as(
        "SELECT state, attempts, recipient FROM bookings_demo.notifications WHERE booking_id = $1::uuid AND kind = $2",
    )
    .bind(booking)
    .bind(kind.as_str())
    .fetch_optional(state.pg())
    .await
    .unwrap()
}

#[test]
fn a_paid_booking_mails_its_owner_the_seats_and_tickets_that_verify() {
    run(async {
        gateway_url().await; // its consumers, the notifier among them, run
        let state = state().await;
        let (token, email) = fan(&state).await;
        let event = create_event(&state, 20, 30).await;
        let booking = book(&state, &token, &event, &["A1", "A2"]).await;
        pay(&state, &token, &booking).await;

        let inbox = inbox_settles_at(&email, 1).await;
        assert_eq!(inbox.len(), 1, "one confirmation");
        let mail = &inbox[0];
        assert!(mail["subject"].as_str().unwrap().starts_with("Your tickets for "), "{}", mail["subject"]);
        let text = mail["text"].as_str().unwrap();
        for expected in ["Seat A1", "Seat A2", "Test Hall", "USD 60.00", booking.as_str()] {
            assert!(text.contains(expected), "{expected} missing from:\n{text}");
        }
        assert!(mail["html"].as_str().unwrap().contains("<svg"), "QR codes inline in the HTML body");

        // The codes in the mail are the booking's tickets, and they verify.
        let signer = shared::tickets::TicketSigner::from_config(&state.config).unwrap();
        let codes: Vec<&str> = text.lines().map(str::trim).filter(|l| signer.verify(l).is_ok()).collect();
        assert_eq!(codes.len(), 2, "two verifiable codes in:\n{text}");
        let attachments = mail["attachments"].as_array().expect("attachments");
        assert_eq!(attachments.len(), 2, "one QR code file per seat");
        for attachment in attachments {
            assert_eq!(attachment["contentType"], "image/svg+xml");
            let file = attachment["generatedFileName"].as_str().unwrap();
            let svg = http_client()
                .get(format!("{}/api/email/{}/attachment/{file}", inbox_url(), mail["id"].as_str().unwrap()))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert!(svg.starts_with("<?xml") || svg.starts_with("<svg"), "{file} is an SVG: {}", &svg[..40]);
        }
        let row = ledger_row(&state, &booking, NoticeKind::Confirmed).await.expect("a ledger row");
        assert_eq!(row, ("SENT".to_owned(), 1, Some(email)));
    });
}

#[test]
fn redelivered_and_concurrent_batches_send_one_message_per_booking_and_kind() {
    run(async {
        // Its own topics: only this test's deliveries reach the notifier.
        let state = isolated(|_| {}).await;
        let (token, email) = fan(&state).await;
        let event = create_event(&state, 20, 30).await;
        let booking = book(&state, &token, &event, &["B1"]).await;
        pay(&state, &token, &booking).await;

        // Eight batches at once, then the same record three times more.
        let batches = (0..8).map(|i| deliver(&state, "notifier", delivery(&state, "booking.confirmed", &booking, i)));
        for report in futures::future::join_all(batches).await {
            let report = report.expect("every concurrent batch succeeds");
            assert_eq!(report["deadLettered"], 0, "{report}");
        }
        for offset in 0..3 {
            deliver(&state, "notifier", delivery(&state, "booking.confirmed", &booking, offset)).await.unwrap();
        }
        let inbox = inbox_settles_at(&email, 1).await;
        assert_eq!(
            inbox.len(),
            1,
            "exactly one confirmation: {:?}",
            inbox.iter().map(|m| &m["subject"]).collect::<Vec<_>>()
        );
        assert_eq!(ledger_row(&state, &booking, NoticeKind::Confirmed).await.unwrap().0, "SENT");

        // Another kind about the same booking is its own message, once.
        let (status, body) = call(&state, "PUT", &format!("/bookings/{}/cancel", booking), Some(&token), None).await;
        assert_eq!(status, 200, "{body}");
        for offset in 0..3 {
            deliver(&state, "notifier", delivery(&state, "booking.cancelled", &booking, offset)).await.unwrap();
        }
        let inbox = inbox_settles_at(&email, 2).await;
        assert_eq!(inbox.len(), 2, "one confirmation and one cancellation");
        let cancelled =
            inbox.iter().find(|m| m["subject"].as_str().unwrap().contains("cancelled")).expect("cancel mail");
        let text = cancelled["text"].as_str().unwrap();
        assert!(text.contains("USD 30.00"), "the refund is told:\n{text}");
        assert!(text.to_lowercase().contains("refund"), "{text}");
    });
}

#[test]
fn a_lapsed_hold_is_mailed_through_the_running_consumers() {
    run(async {
        gateway_url().await;
        let state = state().await;
        let (token, email) = fan(&state).await;
        let event = create_event(&state, 20, 30).await;
        let booking = book(&state, &token, &event, &["B3"]).await;
        sqlx::query("UPDATE bookings_demo.bookings SET expires_at = now() - interval '1 second' WHERE id = $1::uuid")
            .bind(&booking)
            .execute(state.pg())
            .await
            .unwrap();
        shared::consumers::sweep(&state, Duration::from_secs(30)).await.expect("sweep");

        let inbox = inbox_settles_at(&email, 1).await;
        assert_eq!(inbox.len(), 1);
        assert!(inbox[0]["text"].as_str().unwrap().contains("lapsed"), "{}", inbox[0]["text"]);
        assert!(inbox[0]["attachments"].as_array().is_none_or(Vec::is_empty), "no tickets for a lapsed hold");
    });
}

#[test]
fn a_send_the_mail_server_did_not_take_is_retried_and_then_sent_once() {
    run(async {
        let state = isolated(|_| {}).await;
        let (token, email) = fan(&state).await;
        let event = create_event(&state, 20, 30).await;
        let booking = book(&state, &token, &event, &["B4"]).await;
        pay(&state, &token, &booking).await;

        // Port 9 on loopback: nothing listens, so the send fails at once.
        let unreachable = state_with(|c| {
            c.topic_prefix = state.config.topic_prefix.clone();
            c.mail_transport = MailTransport::Smtp { url: "smtp://127.0.0.1:9".to_owned() };
        })
        .await;
        let failed = deliver(&unreachable, "notifier", delivery(&state, "booking.confirmed", &booking, 0)).await;
        assert!(failed.is_err(), "the batch fails so it is delivered again");
        assert_eq!(ledger_row(&state, &booking, NoticeKind::Confirmed).await.unwrap().0, "RETRY");
        assert!(inbox_of(&email).await.is_empty());

        deliver(&state, "notifier", delivery(&state, "booking.confirmed", &booking, 0))
            .await
            .expect("redelivery sends");
        assert_eq!(inbox_settles_at(&email, 1).await.len(), 1);
        assert_eq!(ledger_row(&state, &booking, NoticeKind::Confirmed).await.unwrap().0, "SENT");
    });
}

#[test]
fn the_ledger_gives_a_notice_to_one_sender_and_takes_it_back_only_after_its_lease() {
    run(async {
        let state = state().await;
        let ledger = PgNotices::new(state.pg().clone());
        let booking = Uuid::now_v7();
        let kind = NoticeKind::Confirmed;
        let lease = Duration::from_millis(300);

        // Twenty claims at once: one sender.
        let claims = futures::future::join_all((0..20).map(|_| ledger.claim(booking, kind, lease))).await;
        let ours: Vec<i32> = claims
            .iter()
            .filter_map(|c| match c.as_ref().unwrap() {
                NoticeClaim::Ours { attempt } => Some(*attempt),
                _ => None,
            })
            .collect();
        assert_eq!(ours, vec![1], "{claims:?}");
        assert!(matches!(ledger.claim(booking, kind, lease).await.unwrap(), NoticeClaim::Busy));

        // The sender goes quiet; after its lease one successor takes over.
        tokio::time::sleep(lease + Duration::from_millis(100)).await;
        let takeovers = futures::future::join_all((0..10).map(|_| ledger.claim(booking, kind, lease))).await;
        let won: Vec<_> = takeovers.iter().filter(|c| matches!(c, Ok(NoticeClaim::Ours { attempt: 2 }))).collect();
        assert_eq!(won.len(), 1, "{takeovers:?}");

        // The first sender wakes and settles: its claim is gone, nothing changes.
        let stale = NoticeEnd::Sent { recipient: "stale@example.test", provider_id: "stale" };
        ledger.settle(booking, kind, 1, stale).await.unwrap();
        assert_eq!(ledger_row(&state, &booking.to_string(), kind).await.unwrap(), ("SENDING".to_owned(), 2, None));

        let sent = NoticeEnd::Sent { recipient: "fan@example.test", provider_id: "<id@local>" };
        ledger.settle(booking, kind, 2, sent).await.unwrap();
        assert!(matches!(ledger.claim(booking, kind, lease).await.unwrap(), NoticeClaim::Done));
        let row = ledger_row(&state, &booking.to_string(), kind).await.unwrap();
        assert_eq!(row, ("SENT".to_owned(), 2, Some("fan@example.test".to_owned())));

        // A handed-back notice is claimable at once, without waiting out a lease.
        let other = Uuid::now_v7();
        assert!(matches!(ledger.claim(other, kind, lease).await.unwrap(), NoticeClaim::Ours { attempt: 1 }));
        ledger.settle(other, kind, 1, NoticeEnd::Retry("smtp down")).await.unwrap();
        assert!(matches!(ledger.claim(other, kind, lease).await.unwrap(), NoticeClaim::Ours { attempt: 2 }));
    });
}
