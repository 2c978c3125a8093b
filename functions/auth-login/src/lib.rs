//! `POST /auth/login`: exchanges email and password for a JWT.

use lambda_http::{Body, Error, Request, Response};
use shared::aws_access::Access;
use shared::{accounts, http, State};

/// The AWS calls this function's code makes; its role in template.yaml
/// allows these and no more (checked by the deploy rehearsal).
pub const AWS_ACCESS: Access = Access::STORES;

pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, Error> {
    Ok(http::respond(login(state, &req).await))
}

async fn login(state: &State, req: &Request) -> Result<http::Reply, shared::ApiError> {
    let input = http::parse_json(req, state.config.max_body_bytes)?;
    let throttle = state.login_throttle().await?;
    let session = accounts::login(
        &state.users(),
        &throttle,
        &state.passwords,
        &state.jwt,
        &state.access(),
        input,
        &state.client_ip(req),
    )
    .await?;
    http::Reply::ok(&session)
}
