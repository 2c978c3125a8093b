//! Telling a booking's owner what happened: the notifier consumer's use case.
//!
//! One message per booking and kind (`NoticeKind`), however often Kafka
//! delivers the event and however many batches carry it at once: the ledger
//! (`NoticeLedger`, a PostgreSQL row per booking and kind) is claimed before
//! the send and marked after it. A send that fails hands the claim back and
//! fails the batch, which is delivered again; a crash between the send and
//! the mark leaves a lease that lapses, and the next delivery sends again.
//! So a message is never lost and repeats at most once per crash: for a
//! ticket e-mail a duplicate costs less than a fan at the door with nothing.

use std::time::Duration;

use askama::Template;
use async_trait::async_trait;
use uuid::Uuid;

use crate::{
    catalog::LayoutCache,
    domain::notice::{ticket_file_name, EventSummary, MailedTicket, NoticeFacts, NoticeKind, NoticeView},
    error::ApiError,
    repo::{booking_ports::BookingRepo, pg_notices::PgNotices, EventCatalog, NoticeClaim, NoticeEnd, NoticeLedger},
    tickets::{self, TicketSigner},
};

/// One e-mail, transport-neutral: the SMTP and SES adapters both send it as
/// the same MIME message (shared/src/mail.rs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// Names the message (kind and booking): the same notice always has the
    /// same key, which the adapters turn into its Message-ID.
    pub key: String,
    /// The bare address: no display name, since the only name we have is
    /// whatever the fan typed, which nobody checked.
    pub to_email: String,
    pub subject: String,
    pub html: String,
    pub text: String,
    pub attachments: Vec<Attachment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub file_name: String,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum MailError {
    /// The mail service refused this message for good (a bad address, a
    /// rejected content): sending it again would fail again.
    #[error("the mail service refused the message: {0}")]
    Rejected(String),
    /// The mail service could not be reached or failed; worth retrying.
    #[error("the mail service is unavailable: {0}")]
    Unavailable(String),
    /// The mail service refuses this sender until someone fixes the
    /// account or the identity (no permission, an unverified MAIL FROM
    /// domain, a suspended account): permanent for now, but not the
    /// message's fault, so it must stay sendable after the fix.
    #[error("the mail service refuses this sender: {0}")]
    Misconfigured(String),
}

/// Where e-mail goes: SES on AWS, SMTP locally (shared/src/mail.rs).
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Hands the message to the mail service; its id for the message.
    async fn send(&self, mail: &Mail) -> Result<String, MailError>;
}

/// Everything a message says, gathered from the stores; `None` for a
/// booking that does not exist.
#[async_trait]
pub trait NoticeSource: Send + Sync {
    async fn facts(&self, booking: Uuid, kind: NoticeKind) -> Result<Option<NoticeFacts>, ApiError>;
}

/// The facts from the stores: the booking and its payment and owner from
/// PostgreSQL, the event from the catalog, the tickets signed as the API
/// signs them.
pub struct StoredFacts<'a> {
    pub bookings: Box<dyn BookingRepo + 'a>,
    pub notices: PgNotices,
    pub catalog: Box<dyn EventCatalog + 'a>,
    pub layouts: &'a LayoutCache,
    /// `None` leaves tickets out of confirmations (a deployment without a
    /// ticket key); the API's tickets endpoint still has them.
    pub signer: Option<&'a TicketSigner>,
}

#[async_trait]
impl NoticeSource for StoredFacts<'_> {
    async fn facts(&self, booking: Uuid, kind: NoticeKind) -> Result<Option<NoticeFacts>, ApiError> {
        let Some(booking) = self.bookings.find(booking).await? else { return Ok(None) };
        let Some((recipient, payment)) = self.notices.recipient_and_payment(booking.user_id, booking.id).await? else {
            return Ok(None);
        };
        let event = &self.layouts.get(self.catalog.as_ref(), &booking.event_id).await?.event;
        let venue = match &event.venue.city {
            Some(city) => format!("{}, {city}", event.venue.name),
            None => event.venue.name.clone(),
        };
        let tickets = match (kind, self.signer) {
            (NoticeKind::Confirmed, Some(signer)) => tickets::issue(signer, &booking)?
                .into_iter()
                .map(|t| MailedTicket { label: t.label, section: t.section, code: t.code, qr_svg: t.qr_svg })
                .collect(),
            _ => Vec::new(),
        };
        Ok(Some(NoticeFacts {
            kind,
            recipient,
            event: EventSummary { name: event.name.clone(), date: event.date, venue },
            payment,
            tickets,
            booking,
        }))
    }
}

#[derive(Template)]
#[template(path = "notice.html")]
struct HtmlBody<'a> {
    subject: &'a str,
    n: &'a NoticeView,
}

#[derive(Template)]
#[template(path = "notice.txt")]
struct TextBody<'a> {
    n: &'a NoticeView,
}

/// The e-mail for `facts`: both bodies from the templates in
/// shared/templates/, and each ticket's QR code attached as an SVG.
pub fn render(facts: &NoticeFacts) -> Result<Mail, ApiError> {
    let subject = facts.subject();
    let view = facts.view();
    let failed = |e: askama::Error| ApiError::Internal(anyhow::anyhow!("rendering a notice: {e}"));
    let html = HtmlBody { subject: &subject, n: &view }.render().map_err(failed)?;
    let text = TextBody { n: &view }.render().map_err(failed)?;
    let attachments = facts
        .tickets
        .iter()
        .map(|ticket| Attachment {
            file_name: ticket_file_name(&ticket.label),
            content_type: "image/svg+xml",
            body: ticket.qr_svg.clone().into_bytes(),
        })
        .collect();
    Ok(Mail {
        key: format!("{}.{}", facts.kind.as_str().to_ascii_lowercase(), facts.booking.id),
        to_email: facts.recipient.email.clone(),
        subject,
        html,
        text,
        attachments,
    })
}

/// What became of one notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// Sent, refused or skipped by an earlier delivery.
    AlreadyDone,
    /// The booking has moved on since (see `NoticeFacts::still_true`).
    Outdated,
    UnknownBooking,
    /// The mail service refused it for good; recorded, not retried.
    Refused,
    /// The owner never proved the address: nothing is mailed to it
    /// (recorded SKIPPED; the tickets stay in the account).
    Unverified,
}

/// How often a delivery that finds another one sending the same notice
/// looks again (the other one either finishes or its lease lapses).
const BUSY_POLL: Duration = Duration::from_millis(100);

pub struct Notifier<'a> {
    pub source: Box<dyn NoticeSource + 'a>,
    pub ledger: Box<dyn NoticeLedger + 'a>,
    pub mailer: &'a dyn Mailer,
    /// How long a claim keeps other deliveries waiting: longer than a send
    /// may take, so a live sender is never doubled, and short enough that
    /// one that died is taken over within a retry or two.
    pub lease: Duration,
}

impl Notifier<'_> {
    pub async fn notify(&self, booking: Uuid, kind: NoticeKind) -> Result<Outcome, ApiError> {
        let deadline = tokio::time::Instant::now() + self.lease;
        let attempt = loop {
            match self.ledger.claim(booking, kind, self.lease).await? {
                NoticeClaim::Ours { attempt } => break attempt,
                NoticeClaim::Done => return Ok(Outcome::AlreadyDone),
                NoticeClaim::Busy if tokio::time::Instant::now() < deadline => tokio::time::sleep(BUSY_POLL).await,
                NoticeClaim::Busy => {
                    return Err(ApiError::Unavailable(format!(
                        "another delivery is still sending the {} notice of booking {booking}",
                        kind.as_str()
                    )))
                }
            }
        };
        match self.send_claimed(booking, kind, attempt).await {
            Ok(outcome) => Ok(outcome),
            Err(err) => {
                // Hand the claim back so the redelivery need not wait out
                // the lease; if this fails too, the lease still lapses.
                let reason = err.to_string();
                if let Err(release) = self.ledger.settle(booking, kind, attempt, NoticeEnd::Retry(&reason)).await {
                    tracing::warn!(booking.id = %booking, error = %release, "could not release a notice claim");
                }
                Err(err)
            }
        }
    }

    async fn send_claimed(&self, booking: Uuid, kind: NoticeKind, attempt: i32) -> Result<Outcome, ApiError> {
        let Some(facts) = self.source.facts(booking, kind).await? else {
            tracing::warn!(booking.id = %booking, kind = kind.as_str(), "notice for a booking that does not exist");
            self.ledger.settle(booking, kind, attempt, NoticeEnd::Skipped("no such booking")).await?;
            return Ok(Outcome::UnknownBooking);
        };
        if !facts.still_true() {
            tracing::info!(booking.id = %booking, kind = kind.as_str(), status = facts.booking.status.as_str(), "notice outdated; not sent");
            self.ledger.settle(booking, kind, attempt, NoticeEnd::Skipped("the booking has moved on")).await?;
            return Ok(Outcome::Outdated);
        }
        if !facts.recipient.verified {
            // Anyone can register any address: mail to one nobody proved
            // would let them send the box office's mail to a stranger.
            tracing::info!(booking.id = %booking, kind = kind.as_str(), "owner's address not verified; notice not sent");
            self.ledger.settle(booking, kind, attempt, NoticeEnd::Skipped("address not verified")).await?;
            return Ok(Outcome::Unverified);
        }
        let mail = render(&facts)?;
        let recipient = &mail.to_email;
        match self.mailer.send(&mail).await {
            Ok(provider_id) => {
                self.ledger
                    .settle(booking, kind, attempt, NoticeEnd::Sent { recipient, provider_id: &provider_id })
                    .await?;
                tracing::info!(booking.id = %booking, kind = kind.as_str(), provider_id, "notice sent");
                Ok(Outcome::Sent)
            }
            // `mail_failure = "permanent"` feeds the notifier's alarm
            // (MailPermanentFailuresAlarm in template.yaml).
            Err(MailError::Rejected(reason)) => {
                tracing::error!(booking.id = %booking, kind = kind.as_str(), reason, mail_failure = "permanent", "notice refused by the mail service");
                self.ledger.settle(booking, kind, attempt, NoticeEnd::Refused { recipient, error: &reason }).await?;
                Ok(Outcome::Refused)
            }
            // Not recorded as refused: the batch fails, its bounded retries
            // fail alike, and the event source mapping keeps the whole batch
            // in the failure bucket for a replay once the sender is fixed.
            Err(MailError::Misconfigured(reason)) => {
                tracing::error!(booking.id = %booking, kind = kind.as_str(), reason, mail_failure = "permanent", "the mail service refuses this sender");
                Err(ApiError::Unavailable(format!("sending a notice: {reason}")))
            }
            Err(MailError::Unavailable(reason)) => {
                tracing::warn!(booking.id = %booking, kind = kind.as_str(), reason, mail_failure = "transient", "mail service unavailable");
                Err(ApiError::Unavailable(format!("sending a notice: {reason}")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{
        atomic::{AtomicUsize, Ordering},
        Mutex,
    };

    use chrono::Utc;

    use super::*;
    use crate::{
        domain::{
            booking::{BookedSeat, Booking, BookingStatus},
            money::Cents,
            notice::{EventSummary, MailedTicket, Payment, Recipient},
            user::Tier,
        },
        repo::memory::MemoryLedger,
    };

    struct Facts(BookingStatus);

    /// The same facts, for an owner who never verified the address.
    struct UnverifiedFacts;

    #[async_trait]
    impl NoticeSource for UnverifiedFacts {
        async fn facts(&self, booking: Uuid, kind: NoticeKind) -> Result<Option<NoticeFacts>, ApiError> {
            let mut facts = Facts(BookingStatus::Confirmed).facts(booking, kind).await?;
            if let Some(facts) = facts.as_mut() {
                facts.recipient.verified = false;
            }
            Ok(facts)
        }
    }

    #[async_trait]
    impl NoticeSource for Facts {
        async fn facts(&self, booking: Uuid, kind: NoticeKind) -> Result<Option<NoticeFacts>, ApiError> {
            if booking.is_nil() {
                return Ok(None);
            }
            let now = Utc::now();
            Ok(Some(NoticeFacts {
                kind,
                recipient: Recipient { email: "fan@example.com".into(), verified: true },
                booking: Booking {
                    id: booking,
                    ..Booking::sample(
                        self.0,
                        vec![BookedSeat {
                            label: "A-1".into(),
                            section: "Floor & <b>".into(),
                            tier: Tier::Regular,
                            price: Cents(15_000),
                        }],
                    )
                },
                event: EventSummary { name: "Rock \"Night\"".into(), date: now, venue: "Hall".into() },
                payment: Payment::Paid(Cents(15_000)),
                tickets: vec![MailedTicket {
                    label: "A-1".into(),
                    section: "Floor & <b>".into(),
                    code: "code.for.door".into(),
                    qr_svg: "<svg/>".into(),
                }],
            }))
        }
    }

    /// Counts sends; fails the first `failures` of them with `error`, and
    /// takes `delay` over each.
    struct CountingMailer {
        sent: Mutex<Vec<Mail>>,
        attempts: AtomicUsize,
        failures: usize,
        error: MailError,
        delay: Duration,
    }

    impl CountingMailer {
        fn new() -> Self {
            CountingMailer::failing(0, MailError::Unavailable("down".into()))
        }
        fn failing(failures: usize, error: MailError) -> Self {
            CountingMailer {
                sent: Mutex::default(),
                attempts: AtomicUsize::new(0),
                failures,
                error,
                delay: Duration::ZERO,
            }
        }
    }

    #[async_trait]
    impl Mailer for CountingMailer {
        async fn send(&self, mail: &Mail) -> Result<String, MailError> {
            tokio::time::sleep(self.delay).await;
            if self.attempts.fetch_add(1, Ordering::SeqCst) < self.failures {
                return Err(self.error.clone());
            }
            self.sent.lock().unwrap().push(mail.clone());
            Ok(format!("id-{}", self.sent.lock().unwrap().len()))
        }
    }

    fn notifier_for<'a>(ledger: &'a MemoryLedger, mailer: &'a CountingMailer, status: BookingStatus) -> Notifier<'a> {
        Notifier {
            source: Box::new(Facts(status)),
            ledger: Box::new(ledger),
            mailer,
            lease: Duration::from_millis(300),
        }
    }

    #[async_trait]
    impl NoticeLedger for &MemoryLedger {
        async fn claim(&self, booking: Uuid, kind: NoticeKind, lease: Duration) -> Result<NoticeClaim, ApiError> {
            (**self).claim(booking, kind, lease).await
        }
        async fn settle(
            &self,
            booking: Uuid,
            kind: NoticeKind,
            attempt: i32,
            end: NoticeEnd<'_>,
        ) -> Result<(), ApiError> {
            (**self).settle(booking, kind, attempt, end).await
        }
    }

    #[tokio::test]
    async fn a_redelivered_notice_is_sent_once() {
        let (ledger, mailer) = (MemoryLedger::default(), CountingMailer::new());
        let notifier = notifier_for(&ledger, &mailer, BookingStatus::Confirmed);
        let booking = Uuid::new_v4();
        assert_eq!(notifier.notify(booking, NoticeKind::Confirmed).await.unwrap(), Outcome::Sent);
        for _ in 0..3 {
            assert_eq!(notifier.notify(booking, NoticeKind::Confirmed).await.unwrap(), Outcome::AlreadyDone);
        }
        assert_eq!(mailer.sent.lock().unwrap().len(), 1);
        // Another kind for the same booking is another message.
        let cancelled = notifier_for(&ledger, &mailer, BookingStatus::Cancelled);
        assert_eq!(cancelled.notify(booking, NoticeKind::Cancelled).await.unwrap(), Outcome::Sent);
        assert_eq!(mailer.sent.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn concurrent_deliveries_wait_for_the_one_sending() {
        let ledger = MemoryLedger::default();
        let mailer = CountingMailer { delay: Duration::from_millis(50), ..CountingMailer::new() };
        let notifier = notifier_for(&ledger, &mailer, BookingStatus::Confirmed);
        let booking = Uuid::new_v4();
        let outcomes = futures::future::join_all((0..8).map(|_| notifier.notify(booking, NoticeKind::Confirmed))).await;
        let sent = outcomes.iter().filter(|o| matches!(o, Ok(Outcome::Sent))).count();
        let done = outcomes.iter().filter(|o| matches!(o, Ok(Outcome::AlreadyDone))).count();
        assert_eq!((sent, done), (1, 7), "{outcomes:?}");
        assert_eq!(mailer.sent.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_failed_send_fails_the_delivery_and_the_next_one_sends() {
        let ledger = MemoryLedger::default();
        let mailer = CountingMailer::failing(1, MailError::Unavailable("smtp down".into()));
        let notifier = notifier_for(&ledger, &mailer, BookingStatus::Confirmed);
        let booking = Uuid::new_v4();
        let err = notifier.notify(booking, NoticeKind::Confirmed).await.unwrap_err();
        assert!(matches!(err, ApiError::Unavailable(_)), "{err:?}");
        // Released at once: the retry does not wait out the lease.
        assert_eq!(notifier.notify(booking, NoticeKind::Confirmed).await.unwrap(), Outcome::Sent);
        assert_eq!(mailer.sent.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_refused_message_is_recorded_and_not_retried() {
        let ledger = MemoryLedger::default();
        let mailer = CountingMailer::failing(1, MailError::Rejected("bad address".into()));
        let notifier = notifier_for(&ledger, &mailer, BookingStatus::Confirmed);
        let booking = Uuid::new_v4();
        assert_eq!(notifier.notify(booking, NoticeKind::Confirmed).await.unwrap(), Outcome::Refused);
        assert_eq!(notifier.notify(booking, NoticeKind::Confirmed).await.unwrap(), Outcome::AlreadyDone);
        assert_eq!(mailer.attempts.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_sender_the_mail_service_refuses_fails_the_delivery_and_stays_sendable() {
        let ledger = MemoryLedger::default();
        let mailer = CountingMailer::failing(1, MailError::Misconfigured("MailFromDomainNotVerifiedException".into()));
        let notifier = notifier_for(&ledger, &mailer, BookingStatus::Confirmed);
        let booking = Uuid::new_v4();
        let err = notifier.notify(booking, NoticeKind::Confirmed).await.unwrap_err();
        assert!(matches!(err, ApiError::Unavailable(_)), "{err:?}");
        // Not recorded as refused: the replay after the fix sends it.
        assert_eq!(notifier.notify(booking, NoticeKind::Confirmed).await.unwrap(), Outcome::Sent);
        assert_eq!(mailer.sent.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_sender_that_died_is_taken_over_after_its_lease() {
        let (ledger, mailer) = (MemoryLedger::default(), CountingMailer::new());
        let booking = Uuid::new_v4();
        // A claim nobody settles: the sender crashed after claiming.
        ledger.claim(booking, NoticeKind::Confirmed, Duration::from_millis(200)).await.unwrap();
        let notifier = notifier_for(&ledger, &mailer, BookingStatus::Confirmed);
        assert_eq!(notifier.notify(booking, NoticeKind::Confirmed).await.unwrap(), Outcome::Sent);
        assert_eq!(mailer.sent.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn outdated_and_unknown_bookings_send_nothing() {
        let (ledger, mailer) = (MemoryLedger::default(), CountingMailer::new());
        let cancelled_since = notifier_for(&ledger, &mailer, BookingStatus::Cancelled);
        assert_eq!(cancelled_since.notify(Uuid::new_v4(), NoticeKind::Confirmed).await.unwrap(), Outcome::Outdated);
        assert_eq!(cancelled_since.notify(Uuid::nil(), NoticeKind::Cancelled).await.unwrap(), Outcome::UnknownBooking);
        assert!(mailer.sent.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn nothing_is_mailed_to_an_address_nobody_proved() {
        let (ledger, mailer) = (MemoryLedger::default(), CountingMailer::new());
        let notifier = Notifier {
            source: Box::new(UnverifiedFacts),
            ledger: Box::new(&ledger),
            mailer: &mailer,
            lease: Duration::from_millis(300),
        };
        let booking = Uuid::new_v4();
        assert_eq!(notifier.notify(booking, NoticeKind::Confirmed).await.unwrap(), Outcome::Unverified);
        // Recorded, so a redelivery does not look again.
        assert_eq!(notifier.notify(booking, NoticeKind::Confirmed).await.unwrap(), Outcome::AlreadyDone);
        assert_eq!(mailer.attempts.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn the_html_body_escapes_what_users_typed_and_the_text_body_keeps_it() {
        let facts =
            Facts(BookingStatus::Confirmed).facts(Uuid::new_v4(), NoticeKind::Confirmed).await.unwrap().unwrap();
        let mail = render(&facts).unwrap();
        assert_eq!(mail.subject, "Your tickets for Rock \"Night\"");
        // The fan-chosen name is not the box office's to repeat: no greeting
        // by name, and a bare address in To.
        assert!(mail.html.contains("Hello,") && mail.text.contains("Hello,"), "{}", mail.text);
        assert_eq!(mail.to_email, "fan@example.com");
        assert!(!mail.html.contains("<b>"), "{}", mail.html);
        assert!(
            mail.text.contains("Seat A-1 (Floor & <b>): USD 150.00") && mail.text.contains("code.for.door"),
            "{}",
            mail.text
        );
        assert_eq!(mail.attachments.len(), 1);
        assert_eq!(mail.attachments[0].file_name, "ticket-A-1.svg");
    }
}
