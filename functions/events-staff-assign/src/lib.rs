//! `PUT /events/{id}/staff/{userId}` (admin): lets a door-staff account
//! admit tickets at this event's doors.

use lambda_http::{Body, Error, Request, Response};
use shared::aws_access::Access;
use shared::{domain::event::EventId, door_staff, http, State};

/// The AWS calls this function's code makes; its role in template.yaml
/// allows these and no more (checked by the deploy rehearsal).
pub const AWS_ACCESS: Access = Access::STORES;

pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, Error> {
    Ok(http::respond(assign(state, &req).await))
}

async fn assign(state: &State, req: &Request) -> Result<http::Reply, shared::ApiError> {
    let admin = state.require_admin(req).await?;
    let event = EventId::parse(&http::path_param(req, "id")?)?;
    let user = door_staff::parse_user_id(&http::path_param(req, "userId")?)?;
    let assigned =
        door_staff::assign(&state.users(), &state.events(), &state.event_staff(), &admin, &event, user).await?;
    http::Reply::ok(&assigned)
}
