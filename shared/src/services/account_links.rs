//! The links account mail carries: "verify your address" and "reset your
//! password". Each is an HS256 token with an audience of its own, so a
//! verification link never passes as a reset link, nor either as a login
//! token, a ticket or an admission pass, though they share the login key.
//! (Rotating that key voids outstanding links: they live a day at most.)
//!
//! A reset link is single use without a table of its own: it carries a
//! fingerprint of the password hash it was issued against, and the new
//! password is written only over that very hash (compare-and-set in the
//! store). Once any reset or password change lands, every older link names a
//! hash that is gone.

use askama::Template;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{auth::Hs256, config::Config, error::ApiError, notifier::Mail};

/// Long enough to read the mail the next day.
pub const VERIFY_TTL_SECS: i64 = 24 * 3600;
/// Short: whoever reads the mailbox within the hour owns the account.
pub const RESET_TTL_SECS: i64 = 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    VerifyEmail,
    ResetPassword,
}

impl Purpose {
    fn audience(self, api: &str) -> String {
        match self {
            Purpose::VerifyEmail => format!("{api}/verify-email"),
            Purpose::ResetPassword => format!("{api}/password-reset"),
        }
    }

    fn ttl(self) -> i64 {
        match self {
            Purpose::VerifyEmail => VERIFY_TTL_SECS,
            Purpose::ResetPassword => RESET_TTL_SECS,
        }
    }
}

/// What a genuine, unexpired link says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkClaims {
    pub sub: Uuid,
    /// The address the link was mailed to: verifying proves this address,
    /// not whatever the account holds later.
    pub email: String,
    /// Reset links only: the fingerprint of the password hash they replace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pwd: Option<String>,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
}

/// A short, one-way name of a stored password hash (never the hash itself:
/// the token travels in mail and URLs).
pub fn fingerprint(password_hash: &str) -> String {
    hex::encode(&Sha256::digest(password_hash.as_bytes())[..16])
}

pub fn link_invalid() -> ApiError {
    ApiError::refused(
        http::StatusCode::BAD_REQUEST,
        "LINK_INVALID",
        "This link is not valid or was already used; ask for a new one",
    )
}

pub fn link_expired() -> ApiError {
    ApiError::refused(http::StatusCode::BAD_REQUEST, "LINK_EXPIRED", "This link has expired; ask for a new one")
}

#[derive(Clone)]
pub struct LinkSigner {
    verify: Hs256,
    reset: Hs256,
}

impl LinkSigner {
    pub fn new(secret: &crate::config::Secret, issuer: &str, api_audience: &str) -> Self {
        let required = ["exp", "iat", "sub", "iss", "aud"];
        let codec = |purpose: Purpose| Hs256::new(secret, issuer, &purpose.audience(api_audience), &required, Some(5));
        LinkSigner { verify: codec(Purpose::VerifyEmail), reset: codec(Purpose::ResetPassword) }
    }

    pub fn from_config(config: &Config) -> Self {
        LinkSigner::new(&config.jwt_secret, &config.jwt_issuer, &config.jwt_audience)
    }

    fn codec(&self, purpose: Purpose) -> &Hs256 {
        match purpose {
            Purpose::VerifyEmail => &self.verify,
            Purpose::ResetPassword => &self.reset,
        }
    }

    /// A link for `purpose` issued at `now` (seconds since the epoch).
    pub fn sign_at(
        &self,
        purpose: Purpose,
        user: Uuid,
        email: &str,
        pwd: Option<String>,
        now: i64,
    ) -> Result<String, ApiError> {
        let codec = self.codec(purpose);
        let claims = LinkClaims {
            sub: user,
            email: email.to_owned(),
            pwd,
            iat: now,
            exp: now + purpose.ttl(),
            iss: codec.issuer().to_owned(),
            aud: codec.audience().to_owned(),
        };
        codec.sign(&claims, "an account link")
    }

    pub fn sign(&self, purpose: Purpose, user: Uuid, email: &str, pwd: Option<String>) -> Result<String, ApiError> {
        self.sign_at(purpose, user, email, pwd, Utc::now().timestamp())
    }

    /// The claims of a link this deployment signed for `purpose` that has
    /// not expired; anything else is a 400 (expired links say so).
    pub fn verify(&self, purpose: Purpose, token: &str) -> Result<LinkClaims, ApiError> {
        use jsonwebtoken::errors::ErrorKind;
        let claims = self.codec(purpose).decode::<LinkClaims>(token).map_err(|err| match err.kind() {
            ErrorKind::ExpiredSignature => link_expired(),
            _ => link_invalid(),
        })?;
        // A reset link without the hash it replaces could never be single use.
        if purpose == Purpose::ResetPassword && claims.pwd.is_none() {
            return Err(link_invalid());
        }
        Ok(claims)
    }
}

/// The account mail there is. None of it names the fan or repeats anything
/// they typed: it goes to an address that may not be theirs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountMail {
    /// At registration: the link that proves the address.
    VerifyEmail,
    /// At registration with an address that already has an account: its
    /// owner learns of it and gets a reset link, the caller learns nothing.
    AlreadyRegistered,
    /// Asked for at `POST /auth/password-reset`.
    ResetPassword,
}

impl AccountMail {
    fn subject(self) -> &'static str {
        match self {
            AccountMail::VerifyEmail => "Verify your e-mail address",
            AccountMail::AlreadyRegistered => "You already have a Box Office account",
            AccountMail::ResetPassword => "Reset your Box Office password",
        }
    }

    fn key(self) -> &'static str {
        match self {
            AccountMail::VerifyEmail => "verify",
            AccountMail::AlreadyRegistered => "registered",
            AccountMail::ResetPassword => "reset",
        }
    }

    /// The web app's page that takes the token. It rides in the URL's
    /// fragment, which browsers never send to a server: no access log or
    /// CDN sees it.
    fn page(self) -> &'static str {
        match self {
            AccountMail::VerifyEmail => "verify",
            AccountMail::AlreadyRegistered | AccountMail::ResetPassword => "reset",
        }
    }
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountHtml<'a> {
    subject: &'a str,
    kind: AccountMail,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "account.txt")]
struct AccountText<'a> {
    kind: AccountMail,
    link: &'a str,
}

/// The message of `kind` to `to`, its link opening `web_url` with `token`.
pub fn render(kind: AccountMail, to: &str, web_url: &str, token: &str) -> Result<Mail, ApiError> {
    let link = format!("{web_url}/#/{}/{token}", kind.page());
    let failed = |e: askama::Error| ApiError::Internal(anyhow::anyhow!("rendering account mail: {e}"));
    let subject = kind.subject();
    Ok(Mail {
        // Every send is its own message (a resend is a new link).
        key: format!("account.{}.{}", kind.key(), Uuid::new_v4()),
        to_email: to.to_owned(),
        subject: subject.to_owned(),
        html: AccountHtml { subject, kind, link: &link }.render().map_err(failed)?,
        text: AccountText { kind, link: &link }.render().map_err(failed)?,
        attachments: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn signer(key: &str) -> LinkSigner {
        LinkSigner::new(&Secret::new(key.repeat(32)), "issuer", "api")
    }

    #[test]
    fn a_link_verifies_for_its_own_purpose_only() {
        let links = signer("k");
        let user = Uuid::new_v4();
        let verify = links.sign(Purpose::VerifyEmail, user, "a@b.test", None).unwrap();
        let claims = links.verify(Purpose::VerifyEmail, &verify).unwrap();
        assert_eq!((claims.sub, claims.email.as_str()), (user, "a@b.test"));
        assert_eq!(links.verify(Purpose::ResetPassword, &verify).unwrap_err().code(), "LINK_INVALID");

        let reset = links.sign(Purpose::ResetPassword, user, "a@b.test", Some(fingerprint("$argon2id$x"))).unwrap();
        assert_eq!(links.verify(Purpose::ResetPassword, &reset).unwrap().pwd, Some(fingerprint("$argon2id$x")));
        assert_eq!(links.verify(Purpose::VerifyEmail, &reset).unwrap_err().code(), "LINK_INVALID");
    }

    #[test]
    fn links_expire() {
        let links = signer("k");
        let now = Utc::now().timestamp();
        let old_verify =
            links.sign_at(Purpose::VerifyEmail, Uuid::new_v4(), "a@b.test", None, now - VERIFY_TTL_SECS - 60);
        assert_eq!(links.verify(Purpose::VerifyEmail, &old_verify.unwrap()).unwrap_err().code(), "LINK_EXPIRED");
        let fresh_enough =
            links.sign_at(Purpose::VerifyEmail, Uuid::new_v4(), "a@b.test", None, now - VERIFY_TTL_SECS + 60);
        assert!(links.verify(Purpose::VerifyEmail, &fresh_enough.unwrap()).is_ok());
        // A reset link lives an hour, not a day.
        let pwd = Some(fingerprint("h"));
        let old_reset = links.sign_at(Purpose::ResetPassword, Uuid::new_v4(), "a@b.test", pwd, now - 2 * 3600);
        assert_eq!(links.verify(Purpose::ResetPassword, &old_reset.unwrap()).unwrap_err().code(), "LINK_EXPIRED");
    }

    #[test]
    fn forged_altered_and_foreign_links_are_refused() {
        let links = signer("k");
        let user = Uuid::new_v4();
        let invalid = |purpose, token: &str| links.verify(purpose, token).unwrap_err().code();
        // Another key.
        let foreign = signer("other").sign(Purpose::VerifyEmail, user, "a@b.test", None).unwrap();
        assert_eq!(invalid(Purpose::VerifyEmail, &foreign), "LINK_INVALID");
        // Another user in the claims, the old signature kept.
        let token = links.sign(Purpose::VerifyEmail, user, "a@b.test", None).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
        let mut claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        claims["sub"] = Uuid::new_v4().to_string().into();
        let altered = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(claims.to_string()), parts[2]);
        assert_eq!(invalid(Purpose::VerifyEmail, &altered), "LINK_INVALID");
        let unsigned = format!("{}.{}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#), parts[1]);
        assert_eq!(invalid(Purpose::VerifyEmail, &unsigned), "LINK_INVALID");
        // A login token under the same key is no link.
        let keys = crate::auth::JwtKeys::new(
            &Secret::new("k".repeat(32)),
            std::time::Duration::from_secs(60),
            "issuer",
            "api",
        );
        let login = keys.issue(user, "a@b.test", crate::domain::user::Role::User, Default::default()).unwrap();
        assert_eq!(invalid(Purpose::VerifyEmail, &login), "LINK_INVALID");
        assert_eq!(invalid(Purpose::ResetPassword, &login), "LINK_INVALID");
        assert_eq!(invalid(Purpose::ResetPassword, "garbage"), "LINK_INVALID");
        // A reset link signed without the hash it replaces.
        let no_pwd = links.sign(Purpose::ResetPassword, user, "a@b.test", None).unwrap();
        assert_eq!(invalid(Purpose::ResetPassword, &no_pwd), "LINK_INVALID");
    }

    #[test]
    fn fingerprints_name_a_hash_without_revealing_it() {
        let print = fingerprint("$argon2id$v=19$secret");
        assert_eq!(print.len(), 32);
        assert_ne!(print, fingerprint("$argon2id$v=19$other"));
        assert!(!print.contains("argon2"));
    }

    #[test]
    fn account_mail_carries_the_link_and_nothing_the_fan_typed() {
        let mail = render(AccountMail::VerifyEmail, "fan@example.test", "https://box.test", "a.b.c").unwrap();
        assert_eq!(mail.to_email, "fan@example.test");
        assert!(mail.text.contains("https://box.test/#/verify/a.b.c"), "{}", mail.text);
        assert!(mail.html.contains("href=\"https://box.test/#/verify/a.b.c\""), "{}", mail.html);
        let reset = render(AccountMail::AlreadyRegistered, "fan@example.test", "https://box.test", "t").unwrap();
        assert!(reset.text.contains("https://box.test/#/reset/t") && reset.text.contains("already has one"));
        assert_ne!(mail.key, render(AccountMail::VerifyEmail, "fan@example.test", "x", "t").unwrap().key);
    }
}
