//! `POST /events/{id}/queue`: a place in the event's waiting room for the
//! caller. One place per account: joining again answers the same place.

use lambda_http::{Body, Error, Request, Response};
use shared::aws_access::Access;
use shared::{domain::event::EventId, http, State};

/// The AWS calls this function's code makes; its role in template.yaml
/// allows these and no more (checked by the deploy rehearsal).
pub const AWS_ACCESS: Access = Access::STORES;

pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, Error> {
    Ok(http::respond(join(state, &req).await))
}

async fn join(state: &State, req: &Request) -> Result<http::Reply, shared::ApiError> {
    let fan = state.authenticate(req).await?;
    let event = EventId::parse(&http::path_param(req, "id")?)?;
    let view = state.waiting_room().await?.join(&fan, &event, chrono::Utc::now()).await?;
    // Retry-After tells the fan's client when to ask again; the answer is
    // theirs alone, so no cache may keep it.
    Ok(http::Reply::ok(&view)?.retry_after(view.retry_after_seconds).cache_control("private, no-store"))
}
