//! `POST /events` (admin only): creates an event and its seats, and
//! announces it on `event.created`.

use lambda_http::{Body, Error, Request, Response};
use shared::aws_access::Access;
use shared::kafka;
use shared::{
    catalog,
    domain::event::{Availability, EventView},
    http, State,
};

/// The AWS calls this function's code makes; its role in template.yaml
/// allows these and no more (checked by the deploy rehearsal).
pub const AWS_ACCESS: Access = Access::producer(&[kafka::EVENT_CREATED]);

pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, Error> {
    Ok(http::respond(create(state, &req).await))
}

async fn create(state: &State, req: &Request) -> Result<http::Reply, shared::ApiError> {
    state.require_admin(req).await?;
    let input = http::parse_json(req, state.config.max_body_bytes)?;
    let publisher = state.publisher();
    let event = catalog::create_event(&state.events(), &publisher, input, chrono::Utc::now()).await?;
    let layout = state.layouts.put(event);
    let counts = Availability::all_free(layout.event.total_seats);
    http::Reply::created(&EventView::new(&layout.event, counts))
}
