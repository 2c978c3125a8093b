//! `POST /auth/register`: creates a user account.

use lambda_http::{Body, Error, Request, Response};
use shared::aws_access::Access;
use shared::{accounts, http, repo::RateLimiter, State};

/// The AWS calls this function's code makes; its role in template.yaml
/// allows these and no more (checked by the deploy rehearsal).
pub const AWS_ACCESS: Access = Access::STORES;

pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, Error> {
    Ok(http::respond(register(state, &req).await))
}

async fn register(state: &State, req: &Request) -> Result<http::Reply, shared::ApiError> {
    let per_minute = state.config.registrations_per_ip_per_minute;
    state.rate_limiter().await?.check("register", &state.client_ip(req), per_minute).await?;
    let input = http::parse_json(req, state.config.max_body_bytes)?;
    let user = accounts::register(&state.users(), &state.passwords, input).await?;
    http::Reply::created(&user)
}
