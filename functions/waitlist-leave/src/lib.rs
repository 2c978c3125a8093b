//! `DELETE /events/{id}/waitlist`: the caller leaves the event's waiting
//! list. Seats already offered are declined by cancelling their booking.

use lambda_http::{Body, Error, Request, Response};
use shared::aws_access::Access;
use shared::{domain::event::EventId, http, State};

/// The AWS calls this function's code makes; its role in template.yaml
/// allows these and no more (checked by the deploy rehearsal).
pub const AWS_ACCESS: Access = Access::STORES;

pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, Error> {
    Ok(http::respond(leave(state, &req).await))
}

async fn leave(state: &State, req: &Request) -> Result<http::Reply, shared::ApiError> {
    let fan = state.authenticate(req).await?;
    let event = EventId::parse(&http::path_param(req, "id")?)?;
    let entry = state.waitlist().await?.leave(&fan, &event).await?;
    Ok(http::Reply::ok(&entry)?.cache_control("private, no-store"))
}
