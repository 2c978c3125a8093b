//! `GET /events/{id}/seats`: every seat with its live status; optional
//! `status` and `section` filters.

use lambda_http::{Body, Error, Request, Response};
use shared::{
    catalog::{self, SeatFilter},
    domain::event::EventId,
    http, State,
};

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
    http::Reply::ok(&live.view(&filter))
}
