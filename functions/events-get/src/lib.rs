//! `GET /events/{id}`: one event with venue, artist, sections and live
//! availability.

use lambda_http::{Body, Error, Request, Response};
use shared::aws_access::Access;
use shared::{catalog, domain::event::EventId, domain::event::EventView, http, State};

/// The AWS calls this function's code makes; its role in template.yaml
/// allows these and no more (checked by the deploy rehearsal).
pub const AWS_ACCESS: Access = Access::STORES;

pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, Error> {
    Ok(http::respond(get(state, &req).await))
}

async fn get(state: &State, req: &Request) -> Result<http::Reply, shared::ApiError> {
    let id = EventId::parse(&http::path_param(req, "id")?)?;
    let board = state.seat_board().await?;
    let (layout, counts) = catalog::event_detail(&state.layouts, &state.events(), &board, &id).await?;
    http::Reply::ok(&EventView::new(&layout.event, counts))
}
