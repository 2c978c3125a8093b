//! The two ways e-mail leaves: Amazon SES v2 on AWS, SMTP locally (to the
//! maildev inbox that `make dev` and `make test` start). Both send the same
//! MIME message, built here with lettre: text and HTML alternatives, the
//! tickets as attachments, and a Message-ID derived from the booking and
//! kind, so the rare repeat after a crash threads as the same message.

use std::time::Duration;

use async_trait::async_trait;
use lettre::{
    message::{header::ContentType, Attachment as MimePart, Mailbox, MultiPart},
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
};

use crate::{
    config::{Config, MailTransport},
    notifier::{Mail, MailError, Mailer},
};

/// How long one SMTP conversation may take; the notifier's lease is longer.
const SMTP_TIMEOUT: Duration = Duration::from_secs(5);

/// The SDK operation that sends: SES v2 SendEmail. Its IAM actions depend
/// on its arguments (see `ses_send_call`), so the rehearsal derives them.
pub const SES_SEND_EMAIL: &str = "sesv2:SendEmail";

/// The SES call `SesMailer::send` makes, with the arguments that decide what
/// IAM checks: raw content (authorised as `ses:SendRawEmail`), the sender
/// identity, and the configuration set when one is set.
pub fn ses_send_call() -> crate::aws_access::AwsCall {
    crate::aws_access::AwsCall::operation(
        SES_SEND_EMAIL,
        "${env:MAIL_IDENTITY_ARN}",
        [
            ("Content", "Raw".to_owned()),
            ("FromEmailAddressIdentityArn", "${env:MAIL_IDENTITY_ARN}".to_owned()),
            ("ConfigurationSetName", "${env:MAIL_CONFIGURATION_SET}".to_owned()),
        ],
    )
}

/// What an SES error says about the message and the sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SesFailure {
    /// Throttling, a paused account or a spent quota, SES's own faults, no
    /// answer at all: the same message may pass later; retry it.
    Transient,
    /// This message will never pass (its content or its recipient).
    MessageRefused,
    /// Nothing this sender sends passes until someone fixes the account or
    /// the identity (the role may not send, the MAIL FROM domain is not
    /// verified, the account is suspended, the identity or configuration
    /// set is gone). Not the message's fault: it is kept for a replay.
    SenderMisconfigured,
}

/// Classifies by SES's error code (the `code` of the service error).
pub fn classify_ses_error(code: Option<&str>) -> SesFailure {
    match code {
        Some("MessageRejected" | "BadRequestException") => SesFailure::MessageRefused,
        Some(
            "AccessDeniedException"
            | "AccessDenied"
            | "MailFromDomainNotVerifiedException"
            | "AccountSuspendedException"
            | "NotFoundException",
        ) => SesFailure::SenderMisconfigured,
        // TooManyRequests, LimitExceeded, SendingPaused, InternalFailure,
        // ServiceUnavailable, timeouts and anything unknown.
        _ => SesFailure::Transient,
    }
}

/// The MIME message for `mail` from `from`.
pub fn mime(from: &Mailbox, mail: &Mail) -> Result<Message, MailError> {
    let to = mail
        .to_email
        .parse()
        .map(|address| Mailbox::new(None, address))
        .map_err(|e| MailError::Rejected(format!("recipient address: {e}")))?;
    let mut body =
        MultiPart::mixed().multipart(MultiPart::alternative_plain_html(mail.text.clone(), mail.html.clone()));
    for attachment in &mail.attachments {
        let content_type = ContentType::parse(attachment.content_type)
            .map_err(|e| MailError::Rejected(format!("attachment type: {e}")))?;
        body = body.singlepart(MimePart::new(attachment.file_name.clone()).body(attachment.body.clone(), content_type));
    }
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(mail.subject.clone())
        .message_id(Some(format!("<{}@{}>", mail.key, from.email.domain())))
        .multipart(body)
        .map_err(|e| MailError::Rejected(format!("building the message: {e}")))
}

/// The mailer this deployment's settings name, or why there is none.
pub async fn from_config(config: &Config) -> anyhow::Result<Box<dyn Mailer>> {
    let from: Mailbox = config
        .mail_from
        .as_deref()
        .ok_or_else(|| anyhow::anyhow!("MAIL_FROM is not set for this function"))?
        .parse()
        .map_err(|e| anyhow::anyhow!("MAIL_FROM is not a valid address: {e}"))?;
    Ok(match &config.mail_transport {
        MailTransport::Smtp { url } => {
            let (host, port) = smtp_address(url)?;
            let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
                .port(port)
                .timeout(Some(SMTP_TIMEOUT))
                .build();
            Box::new(SmtpMailer { transport, from })
        }
        MailTransport::Ses { identity_arn, configuration_set } => {
            let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            Box::new(SesMailer {
                client: aws_sdk_sesv2::Client::new(&aws),
                from,
                identity_arn: identity_arn.clone(),
                configuration_set: configuration_set.clone(),
            })
        }
    })
}

/// Host and port of `smtp://host[:port]`. Plain SMTP only: it is the local
/// inbox's transport, and on AWS mail goes through SES, so the Lambdas link
/// no second TLS stack for it.
fn smtp_address(url: &str) -> anyhow::Result<(&str, u16)> {
    let address = url
        .strip_prefix("smtp://")
        .ok_or_else(|| anyhow::anyhow!("SMTP_URL must look like smtp://host:port, got {url}"))?
        .trim_end_matches('/');
    Ok(match address.rsplit_once(':') {
        Some((host, port)) => (host, port.parse().map_err(|_| anyhow::anyhow!("SMTP_URL has an invalid port: {url}"))?),
        None => (address, 25),
    })
}

pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: &Mail) -> Result<String, MailError> {
        let message = mime(&self.from, mail)?;
        match self.transport.send(message).await {
            Ok(response) => Ok(response.message().collect::<Vec<_>>().join(" ")),
            // 5xx: the server will refuse this message however often it is
            // offered; anything else (4xx, a dropped connection) may pass later.
            Err(err) if err.is_permanent() => Err(MailError::Rejected(err.to_string())),
            Err(err) => Err(MailError::Unavailable(err.to_string())),
        }
    }
}

pub struct SesMailer {
    client: aws_sdk_sesv2::Client,
    from: Mailbox,
    /// The verified identity the role may send as (`MAIL_IDENTITY_ARN`).
    identity_arn: Option<String>,
    /// `MAIL_CONFIGURATION_SET`, if the mail goes out with one.
    configuration_set: Option<String>,
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, mail: &Mail) -> Result<String, MailError> {
        use aws_sdk_sesv2::{
            primitives::Blob,
            types::{Destination, EmailContent, RawMessage},
        };
        let message = mime(&self.from, mail)?;
        let raw = RawMessage::builder()
            .data(Blob::new(message.formatted()))
            .build()
            .map_err(|e| MailError::Rejected(e.to_string()))?;
        let sent = self
            .client
            .send_email()
            .from_email_address(self.from.to_string())
            .set_from_email_address_identity_arn(self.identity_arn.clone())
            .set_configuration_set_name(self.configuration_set.clone())
            .destination(Destination::builder().to_addresses(mail.to_email.clone()).build())
            .content(EmailContent::builder().raw(raw).build())
            .send()
            .await;
        match sent {
            Ok(output) => Ok(output.message_id().unwrap_or_default().to_owned()),
            Err(err) => {
                use aws_sdk_sesv2::error::ProvideErrorMetadata;
                let code = err.as_service_error().and_then(|e| e.code());
                let reason = aws_sdk_sesv2::error::DisplayErrorContext(&err).to_string();
                Err(match classify_ses_error(code) {
                    SesFailure::Transient => MailError::Unavailable(reason),
                    SesFailure::MessageRefused => MailError::Rejected(reason),
                    SesFailure::SenderMisconfigured => MailError::Misconfigured(reason),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notifier::Attachment;

    fn mail(to: &str) -> Mail {
        Mail {
            key: "confirmed.0000".into(),
            to_email: to.into(),
            subject: "Your tickets for Café Night".into(),
            html: "<p>Hello</p>".into(),
            text: "Hello".into(),
            attachments: vec![Attachment {
                file_name: "ticket-A-1.svg".into(),
                content_type: "image/svg+xml",
                body: b"<svg/>".to_vec(),
            }],
        }
    }

    #[test]
    fn the_message_carries_both_bodies_the_tickets_and_a_stable_id() {
        let from: Mailbox = "Box Office <tickets@box-office.test>".parse().unwrap();
        let raw = String::from_utf8(mime(&from, &mail("ann@example.com")).unwrap().formatted()).unwrap();
        assert!(raw.contains("Message-ID: <confirmed.0000@box-office.test>"), "{raw}");
        assert!(raw.contains("multipart/alternative") && raw.contains("text/html") && raw.contains("text/plain"));
        assert!(raw.contains("filename=\"ticket-A-1.svg\"") && raw.contains("image/svg+xml"), "{raw}");
        // Non-ASCII subjects are encoded, not sent raw.
        assert!(!raw.contains("Café"), "{raw}");
    }

    #[test]
    fn ses_throttling_a_paused_account_and_faults_are_transient() {
        for code in [
            Some("TooManyRequestsException"),
            Some("LimitExceededException"),
            Some("SendingPausedException"),
            Some("InternalFailure"),
            Some("ServiceUnavailable"),
            None,
        ] {
            assert_eq!(classify_ses_error(code), SesFailure::Transient, "{code:?}");
        }
    }

    #[test]
    fn ses_refusing_the_message_itself_is_permanent_for_that_message() {
        for code in ["MessageRejected", "BadRequestException"] {
            assert_eq!(classify_ses_error(Some(code)), SesFailure::MessageRefused, "{code}");
        }
    }

    #[test]
    fn ses_refusing_the_sender_is_permanent_until_an_operator_fixes_it() {
        for code in [
            "AccessDeniedException",
            "MailFromDomainNotVerifiedException",
            "AccountSuspendedException",
            "NotFoundException",
        ] {
            assert_eq!(classify_ses_error(Some(code)), SesFailure::SenderMisconfigured, "{code}");
        }
    }

    #[test]
    fn smtp_urls_name_host_and_port() {
        assert_eq!(smtp_address("smtp://127.0.0.1:1025").unwrap(), ("127.0.0.1", 1025));
        assert_eq!(smtp_address("smtp://mail.internal/").unwrap(), ("mail.internal", 25));
        assert!(smtp_address("smtps://x:465").is_err() && smtp_address("smtp://x:port").is_err());
    }

    #[test]
    fn a_recipient_that_is_not_an_address_is_refused_for_good() {
        let from: Mailbox = "tickets@box-office.test".parse().unwrap();
        assert!(matches!(mime(&from, &mail("not an address")), Err(MailError::Rejected(_))));
    }
}
