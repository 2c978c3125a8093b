//! `POST /auth/verify`: the link from the verification mail proves the
//! account's address; booking mail is sent to it from then on.

use lambda_http::{Body, Error, Request, Response};
use shared::aws_access::Access;
use shared::{accounts, http, State};

/// The AWS calls this function's code makes; its role in template.yaml
/// allows these and no more (checked by the deploy rehearsal).
pub const AWS_ACCESS: Access = Access::STORES;

pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, Error> {
    Ok(http::respond(verify(state, &req).await))
}

async fn verify(state: &State, req: &Request) -> Result<http::Reply, shared::ApiError> {
    let input = http::parse_json(req, state.config.max_body_bytes)?;
    http::Reply::ok(&accounts::verify_email(&state.users(), &state.links, input).await?)
}
