//! `POST /events/{id}/waitlist` `{"seats": 1-4}`: a place on a sold-out
//! event's waiting list. Joining again answers the same place (200).

use lambda_http::{Body, Error, Request, Response};
use shared::aws_access::Access;
use shared::{domain::event::EventId, domain::waitlist::JoinRequest, http, State};

/// The AWS calls this function's code makes; its role in template.yaml
/// allows these and no more (checked by the deploy rehearsal).
pub const AWS_ACCESS: Access = Access::STORES;

pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, Error> {
    Ok(http::respond(join(state, &req).await))
}

async fn join(state: &State, req: &Request) -> Result<http::Reply, shared::ApiError> {
    let fan = state.authenticate(req).await?;
    let event = EventId::parse(&http::path_param(req, "id")?)?;
    // An empty body asks for one seat.
    let request: JoinRequest = match http::body_bytes(req, state.config.max_body_bytes)? {
        [] => JoinRequest::default(),
        _ => http::parse_json(req, state.config.max_body_bytes)?,
    };
    let (entry, new) = state.waitlist().await?.join(&fan, &event, request, chrono::Utc::now()).await?;
    Ok(if new { http::Reply::created(&entry)? } else { http::Reply::ok(&entry)? }.cache_control("private, no-store"))
}
