//! `POST /auth/password-reset/confirm`: the reset link and a new password;
//! the link works once.

use lambda_http::{Body, Error, Request, Response};
use shared::aws_access::Access;
use shared::{http, State};

/// The AWS calls this function's code makes; its role in template.yaml
/// allows these and no more (checked by the deploy rehearsal).
pub const AWS_ACCESS: Access = Access::STORES;

pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, Error> {
    Ok(http::respond(confirm(state, &req).await))
}

async fn confirm(state: &State, req: &Request) -> Result<http::Reply, shared::ApiError> {
    let input = http::parse_json(req, state.config.max_body_bytes)?;
    http::Reply::ok(&state.confirm_password_reset(input).await?)
}
