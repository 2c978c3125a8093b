//! `GET /events/{id}/seats`: every seat with its live status; optional
//! `status` and `section` filters. Conditional: `If-None-Match` with the
//! map's `ETag` answers 304 while nothing changed.

use lambda_http::{Body, Error, Request, Response};
use shared::aws_access::Access;
use shared::{
    catalog::{self, SeatFilter},
    domain::event::EventId,
    http, State,
};

/// The AWS calls this function's code makes; its role in template.yaml
/// allows these and no more (checked by the deploy rehearsal).
pub const AWS_ACCESS: Access = Access::STORES;

pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, Error> {
    Ok(http::respond(seats(state, &req).await))
}

async fn seats(state: &State, req: &Request) -> Result<http::Reply, shared::ApiError> {
    let id = EventId::parse(&http::path_param(req, "id")?)?;
    let filter = SeatFilter {
        status: http::query_param(req, "status").map(|s| s.parse()).transpose()?,
        section: http::query_param(req, "section"),
    };
    let board = state.seat_board().await?;
    let live = catalog::seat_map(&state.layouts, &state.events(), &board, &id).await?;
    // Seat maps are polled (the web app asks every second): an unchanged
    // map answers 304 with its ETag. No shared cache may keep it longer
    // than that second, as holds change it.
    Ok(http::Reply::ok(&live.view(&filter))?.cache_control("public, max-age=1").conditional(req))
}
