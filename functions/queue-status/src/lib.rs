//! `GET /queue/{token}`: the caller's place in line, when to ask again, and
//! the admission pass once it is their turn.

use lambda_http::{Body, Error, Request, Response};
use shared::aws_access::Access;
use shared::{http, State};

/// The AWS calls this function's code makes; its role in template.yaml
/// allows these and no more (checked by the deploy rehearsal).
pub const AWS_ACCESS: Access = Access::STORES;

pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, Error> {
    Ok(http::respond(status(state, &req).await))
}

async fn status(state: &State, req: &Request) -> Result<http::Reply, shared::ApiError> {
    let fan = state.authenticate(req).await?;
    let token = http::path_param(req, "token")?;
    let view = state.waiting_room().await?.status(&fan, &token, chrono::Utc::now()).await?;
    // Retry-After tells the fan's client when to ask again; the answer is
    // theirs alone, so no cache may keep it.
    Ok(http::Reply::ok(&view)?.retry_after(view.retry_after_seconds).cache_control("private, no-store"))
}
