//! `GET /events/{id}/waitlist`: the caller's entry on the event's waiting
//! list: their place while waiting, the held booking once seats are offered,
//! or how it ended.

use lambda_http::{Body, Error, Request, Response};
use shared::aws_access::Access;
use shared::{domain::event::EventId, http, State};

/// The AWS calls this function's code makes; its role in template.yaml
/// allows these and no more (checked by the deploy rehearsal).
pub const AWS_ACCESS: Access = Access::STORES;

pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, Error> {
    Ok(http::respond(place(state, &req).await))
}

async fn place(state: &State, req: &Request) -> Result<http::Reply, shared::ApiError> {
    let fan = state.authenticate(req).await?;
    let event = EventId::parse(&http::path_param(req, "id")?)?;
    let entry = state.waitlist().await?.place(&fan, &event).await?;
    Ok(http::Reply::ok(&entry)?.cache_control("private, no-store"))
}
