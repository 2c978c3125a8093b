//! Registration and login: the auth service's domain, free of HTTP and of any
//! particular store. Also the account mail: proving the address, and
//! resetting a forgotten password (docs/decisions.md, "Mail only to proven
//! addresses").

use serde::{Deserialize, Serialize};

use crate::{
    account_links::{fingerprint, link_invalid, render, AccountMail, LinkSigner, Purpose},
    auth::{Claims, JwtKeys, PasswordHasherService},
    domain::user::{check_password, Email, LoginRequest, NewUser, RegisterRequest, User, MAX_PASSWORD_CHARS},
    error::ApiError,
    notifier::Mailer,
    repo::{LoginThrottle, RateLimiter, UserStore},
};

/// Account mail to one address per minute and kind at most: the routes that
/// send it answer anyone, so this is what keeps them from being a way to
/// flood a stranger's inbox.
pub const ACCOUNT_MAIL_PER_MINUTE: u32 = 1;

/// What sends account mail: the mail service, the link signer, the web app
/// the links open, and the per-address quota.
pub struct AccountMailer<'a> {
    pub mailer: &'a dyn Mailer,
    pub links: &'a LinkSigner,
    pub web_url: &'a str,
    pub quota: &'a dyn RateLimiter,
}

impl AccountMailer<'_> {
    /// Mails `kind` to `to` unless the address had one of that kind this
    /// minute. Never fails the request: the answer must not depend on
    /// whether (or how well) mail went out, or it would tell who has an
    /// account. Failures are logged; the fan can ask again.
    async fn send(&self, kind: AccountMail, to: &str, token: &str) {
        let quota_key = match kind {
            AccountMail::VerifyEmail => "mail-verify",
            AccountMail::AlreadyRegistered => "mail-registered",
            AccountMail::ResetPassword => "mail-reset",
        };
        match self.quota.check(quota_key, to, ACCOUNT_MAIL_PER_MINUTE).await {
            Ok(()) => {}
            Err(ApiError::TooManyRequests { .. }) => {
                tracing::info!(kind = ?kind, "account mail to this address already sent this minute; not sent");
                return;
            }
            Err(err) => {
                tracing::warn!(error = %err, "account mail quota unavailable; not sent");
                return;
            }
        }
        let sent = match render(kind, to, self.web_url, token) {
            Ok(mail) => self.mailer.send(&mail).await.map_err(|e| e.to_string()),
            Err(err) => Err(err.to_string()),
        };
        match sent {
            Ok(provider_id) => tracing::info!(kind = ?kind, provider_id, "account mail sent"),
            Err(error) => tracing::error!(kind = ?kind, error, "account mail not sent"),
        }
    }
}

/// The one answer registration and reset requests give, whatever the
/// address: whether an account exists is told only to its owner's inbox.
#[derive(Debug, Serialize)]
pub struct CheckYourInbox {
    pub message: &'static str,
}

const CHECK_INBOX_REGISTER: CheckYourInbox = CheckYourInbox {
    message: "Check your inbox: we sent a message to that address to finish setting up your account.",
};
const CHECK_INBOX_RESET: CheckYourInbox =
    CheckYourInbox { message: "If an account uses that address, we sent it a link to choose a new password." };

/// `POST /auth/register`. A new address gets an account and a
/// verification link; an address that already has an account gets a note
/// with a reset link instead. The caller gets the same 202 either way, after
/// the same work (the password is hashed in both cases).
pub async fn register(
    users: &dyn UserStore,
    hasher: &PasswordHasherService,
    mail: &AccountMailer<'_>,
    request: RegisterRequest,
) -> Result<CheckYourInbox, ApiError> {
    let new_user = NewUser::try_from(request)?;
    let hash = hasher.hash(&new_user.password).await?;
    let email = new_user.email.as_ref();
    match users.insert(&new_user, &hash).await {
        Ok(user) => {
            tracing::info!(user.id = %user.id, "user registered");
            let token = mail.links.sign(Purpose::VerifyEmail, user.id, &user.email, None)?;
            mail.send(AccountMail::VerifyEmail, &user.email, &token).await;
        }
        Err(ApiError::Conflict { .. }) => {
            if let Some(existing) = users.find_by_email(&new_user.email).await? {
                tracing::info!(user.id = %existing.user.id, "registration for an existing address; owner told");
                let pwd = Some(fingerprint(&existing.password_hash));
                let token = mail.links.sign(Purpose::ResetPassword, existing.user.id, email, pwd)?;
                mail.send(AccountMail::AlreadyRegistered, email, &token).await;
            }
        }
        Err(err) => return Err(err),
    }
    Ok(CHECK_INBOX_REGISTER)
}

/// The body of `POST /auth/verify`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    pub token: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verified {
    pub email: String,
    pub email_verified: bool,
}

fn required_token(token: Option<String>) -> Result<String, ApiError> {
    token.filter(|t| !t.trim().is_empty()).ok_or_else(|| ApiError::validation("token", "is required"))
}

/// `POST /auth/verify`: the link from the verification mail. Following it
/// twice is harmless: the address stays proven from the first time.
pub async fn verify_email(
    users: &dyn UserStore,
    links: &LinkSigner,
    request: VerifyRequest,
) -> Result<Verified, ApiError> {
    let claims = links.verify(Purpose::VerifyEmail, required_token(request.token)?.trim())?;
    if !users.mark_verified(claims.sub, &claims.email).await? {
        return Err(link_invalid());
    }
    tracing::info!(user.id = %claims.sub, "address verified");
    Ok(Verified { email: claims.email, email_verified: true })
}

/// `POST /auth/verify/resend` (logged in): another verification link to
/// the caller's own address, one a minute at most.
pub async fn resend_verification(
    users: &dyn UserStore,
    mail: &AccountMailer<'_>,
    caller: &Claims,
) -> Result<Option<CheckYourInbox>, ApiError> {
    let account = users
        .find_by_id(caller.sub)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("This account no longer exists".into()))?;
    if account.email_verified {
        return Ok(None);
    }
    // Checked here rather than inside `send`: the caller is the owner, so
    // telling them to wait leaks nothing.
    mail.quota.check("mail-verify", &account.user.email, ACCOUNT_MAIL_PER_MINUTE).await?;
    let token = mail.links.sign(Purpose::VerifyEmail, account.user.id, &account.user.email, None)?;
    let rendered = render(AccountMail::VerifyEmail, &account.user.email, mail.web_url, &token)?;
    mail.mailer.send(&rendered).await.map_err(|e| ApiError::Unavailable(format!("sending the verification: {e}")))?;
    Ok(Some(CheckYourInbox { message: "Check your inbox: we sent a new verification link." }))
}

/// The body of `POST /auth/password-reset`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    pub email: Option<String>,
}

/// `POST /auth/password-reset`: a reset link to the address if it has an
/// account; the same 202 whether or not it does.
pub async fn request_password_reset(
    users: &dyn UserStore,
    mail: &AccountMailer<'_>,
    request: ResetRequest,
) -> Result<CheckYourInbox, ApiError> {
    let mut check = crate::domain::fields::FieldCheck::default();
    let email = check.required("email", request.email.as_deref(), Email::parse);
    check.finish()?;
    let email = email.expect("checked");
    if let Some(account) = users.find_by_email(&email).await? {
        let pwd = Some(fingerprint(&account.password_hash));
        let token = mail.links.sign(Purpose::ResetPassword, account.user.id, &account.user.email, pwd)?;
        mail.send(AccountMail::ResetPassword, &account.user.email, &token).await;
    }
    Ok(CHECK_INBOX_RESET)
}

/// The body of `POST /auth/password-reset/confirm`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetConfirm {
    pub token: Option<String>,
    pub password: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PasswordReset {
    pub message: &'static str,
}

/// `POST /auth/password-reset/confirm`: sets the new password once per
/// link. The link names the hash it replaces, and the store writes over
/// that hash only, so of any number of concurrent confirms one succeeds and
/// every later one finds the link spent. Following it also proves the
/// address (the link came to that inbox). Every token issued before the
/// reset is revoked: whoever reset the password may be taking the account
/// back from someone who had its old one.
pub async fn confirm_password_reset(
    users: &dyn UserStore,
    hasher: &PasswordHasherService,
    links: &LinkSigner,
    sessions: (&dyn crate::repo::AccessStore, &crate::sessions::AccessCache),
    request: ResetConfirm,
) -> Result<PasswordReset, ApiError> {
    let mut check = crate::domain::fields::FieldCheck::default();
    let token = check.required("token", request.token.as_deref(), |t| match t.trim() {
        "" => Err("is required"),
        t => Ok(t.to_owned()),
    });
    let password = check.required("password", request.password.as_deref(), |p| check_password(p).map(|_| p.to_owned()));
    check.finish()?;
    let (token, password) = (token.expect("checked"), password.expect("checked"));
    let claims = links.verify(Purpose::ResetPassword, &token)?;
    let account = users.find_by_id(claims.sub).await?.ok_or_else(link_invalid)?;
    if account.user.email != claims.email || claims.pwd.as_deref() != Some(fingerprint(&account.password_hash).as_str())
    {
        return Err(link_invalid());
    }
    let new_hash = hasher.hash(&password).await?;
    if !users.replace_password(claims.sub, &account.password_hash, &new_hash).await? {
        return Err(link_invalid());
    }
    crate::sessions::revoke_all_tokens(sessions.0, sessions.1, claims.sub).await?;
    tracing::info!(user.id = %claims.sub, "password reset; older tokens revoked");
    Ok(PasswordReset { message: "Your password is changed; log in with the new one." })
}

#[derive(Debug, Serialize)]
pub struct LoginSuccess {
    pub user: LoginUser,
    pub token: String,
}

/// The user as the login response shows it (the original's shape).
#[derive(Debug, Serialize)]
pub struct LoginUser {
    pub id: uuid::Uuid,
    pub email: String,
    pub name: String,
    pub tier: crate::domain::user::Tier,
    pub role: crate::domain::user::Role,
}

fn invalid_credentials() -> ApiError {
    ApiError::Unauthorized("Invalid email or password".into())
}

pub async fn login(
    users: &dyn UserStore,
    throttle: &dyn LoginThrottle,
    hasher: &PasswordHasherService,
    keys: &JwtKeys,
    access: &dyn crate::repo::AccessStore,
    request: LoginRequest,
    client: &str,
) -> Result<LoginSuccess, ApiError> {
    let mut check = crate::domain::fields::FieldCheck::default();
    let email = check.required("email", request.email.as_deref(), Email::parse);
    let password = check.required("password", request.password.as_deref(), |p| {
        if p.is_empty() {
            Err("is required")
        } else {
            Ok(p.to_owned())
        }
    });
    check.finish()?;
    let (email, password) = (email.expect("checked"), password.expect("checked"));

    if let Some(retry_after) = throttle.attempt(&email, client).await? {
        return Err(ApiError::TooManyRequests { retry_after });
    }
    // A password longer than any we accept at registration cannot match; skip
    // hashing it so nobody can make us burn CPU on huge inputs.
    let credentials = users.find_by_email(&email).await?;
    let matched = password.chars().count() <= MAX_PASSWORD_CHARS
        && hasher.verify(&password, credentials.as_ref().map(|c| c.password_hash.as_str())).await?;
    let user = match (matched, credentials) {
        (true, Some(credentials)) => credentials.user,
        _ => {
            tracing::info!(client, "login failed");
            return Err(invalid_credentials());
        }
    };
    throttle.succeeded(&email, client).await?;
    // The token starts at the account's current version: older tokens stay
    // revoked, this one lives until the next role change or logout.
    let version = access.access(user.id).await?.map_or(0, |a| a.token_version);
    let token = keys.issue_versioned(user.id, &user.email, user.role, user.tier, version)?;
    Ok(LoginSuccess {
        user: LoginUser { id: user.id, email: user.email, name: user.name, tier: user.tier, role: user.role },
        token,
    })
}

/// The body of `PUT /users/{id}/role`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleChange {
    pub role: Option<String>,
}

pub fn parse_user_id(raw: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(raw).map_err(|_| ApiError::validation("id", "is not a valid user id"))
}

/// An admin gives a user a role. An admin cannot change their own: the last
/// admin could otherwise lock everyone out of the back office.
pub async fn set_role(
    users: &dyn UserStore,
    admin: &crate::auth::Claims,
    user: uuid::Uuid,
    change: RoleChange,
) -> Result<User, ApiError> {
    let role = match change.role.as_deref() {
        Some("user") => crate::domain::user::Role::User,
        Some("staff") => crate::domain::user::Role::Staff,
        Some("admin") => crate::domain::user::Role::Admin,
        Some(_) => return Err(ApiError::validation("role", "must be one of user, staff, admin")),
        None => return Err(ApiError::validation("role", "is required")),
    };
    if user == admin.sub {
        return Err(ApiError::conflict("Administrators cannot change their own role"));
    }
    let changed = users.set_role(user, role).await?.ok_or_else(|| ApiError::NotFound("User not found".into()))?;
    tracing::info!(user.id = %user, by = %admin.sub, role = ?role, "role changed");
    Ok(changed)
}
