//! `DELETE /events/{id}/staff/{userId}` (admin): the account no longer
//! admits tickets at this event's doors.

use lambda_http::{http::StatusCode, Body, Error, Request, Response};
use shared::aws_access::Access;
use shared::{domain::event::EventId, door_staff, http, State};

/// The AWS calls this function's code makes; its role in template.yaml
/// allows these and no more (checked by the deploy rehearsal).
pub const AWS_ACCESS: Access = Access::STORES;

pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, Error> {
    Ok(http::respond(remove(state, &req).await))
}

async fn remove(state: &State, req: &Request) -> Result<http::Reply, shared::ApiError> {
    let admin = state.require_admin(req).await?;
    let event = EventId::parse(&http::path_param(req, "id")?)?;
    let user = door_staff::parse_user_id(&http::path_param(req, "userId")?)?;
    door_staff::unassign(&state.event_staff(), &admin, &event, user).await?;
    Ok(http::Reply::raw(StatusCode::NO_CONTENT, Vec::new()))
}
