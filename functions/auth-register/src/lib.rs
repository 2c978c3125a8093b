//! `POST /auth/register`: creates a user account and mails a link that
//! proves the address. The answer is the same 202 whether or not the address
//! already had an account (its owner is told by mail instead).

use lambda_http::{http::StatusCode, Body, Error, Request, Response};
use shared::aws_access::Access;
use shared::{accounts, http, repo::RateLimiter, State};

/// The AWS calls this function's code makes; its role in template.yaml
/// allows these and no more (checked by the deploy rehearsal).
pub const AWS_ACCESS: Access = Access::STORES.sending_mail();

pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, Error> {
    Ok(http::respond(register(state, &req).await))
}

async fn register(state: &State, req: &Request) -> Result<http::Reply, shared::ApiError> {
    let per_minute = state.config.registrations_per_ip_per_minute;
    let limiter = state.rate_limiter().await?;
    limiter.check("register", &state.client_ip(req), per_minute).await?;
    let input = http::parse_json(req, state.config.max_body_bytes)?;
    let mail = state.account_mailer(&limiter).await?;
    let answer = accounts::register(&state.users(), &state.passwords, &mail, input).await?;
    http::Reply::with_status(StatusCode::ACCEPTED, &answer)
}
