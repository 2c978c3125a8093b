//! `POST /events/{id}/checkin` (the event's door staff, or an admin): a
//! scanned ticket is admitted once; a second scan answers when and at which
//! gate it was.

use lambda_http::{Body, Error, Request, Response};
use shared::aws_access::Access;
use shared::{domain::event::EventId, door_staff, http, State};

/// The AWS calls this function's code makes; its role in template.yaml
/// allows these and no more (checked by the deploy rehearsal).
pub const AWS_ACCESS: Access = Access::TICKETS;

pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, Error> {
    Ok(http::respond(check_in(state, &req).await))
}

async fn check_in(state: &State, req: &Request) -> Result<http::Reply, shared::ApiError> {
    let staff = state.require_staff(req).await?;
    let event = EventId::parse(&http::path_param(req, "id")?)?;
    // Staff admit only at the events an admin assigned them to.
    door_staff::may_admit(&state.event_staff(), &staff, &event).await?;
    let scan = http::parse_json(req, state.config.max_body_bytes)?;
    http::Reply::ok(&state.tickets()?.check_in(&staff, &event, scan).await?)
}
