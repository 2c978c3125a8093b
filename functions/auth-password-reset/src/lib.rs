//! `POST /auth/password-reset`: mails a single-use reset link if the
//! address has an account, and answers the same 202 whether or not it does.

use lambda_http::{http::StatusCode, Body, Error, Request, Response};
use shared::aws_access::Access;
use shared::{accounts, http, repo::RateLimiter, State};

/// The AWS calls this function's code makes; its role in template.yaml
/// allows these and no more (checked by the deploy rehearsal).
pub const AWS_ACCESS: Access = Access::STORES.sending_mail();

pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, Error> {
    Ok(http::respond(request_reset(state, &req).await))
}

async fn request_reset(state: &State, req: &Request) -> Result<http::Reply, shared::ApiError> {
    // Anyone may call this: the per-address limit (registration's) keeps
    // one client from walking a list of addresses.
    let per_minute = state.config.registrations_per_ip_per_minute;
    let limiter = state.rate_limiter().await?;
    limiter.check("password-reset", &state.client_ip(req), per_minute).await?;
    let input = http::parse_json(req, state.config.max_body_bytes)?;
    let mail = state.account_mailer(&limiter).await?;
    let answer = accounts::request_password_reset(&state.users(), &mail, input).await?;
    http::Reply::with_status(StatusCode::ACCEPTED, &answer)
}
