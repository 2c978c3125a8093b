//! `GET /events`: a page of events with live availability counts.

use lambda_http::{Body, Error, Request, Response};
use shared::aws_access::Access;
use shared::{catalog, http, State};

/// The AWS calls this function's code makes; its role in template.yaml
/// allows these and no more (checked by the deploy rehearsal).
pub const AWS_ACCESS: Access = Access::STORES;

pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, Error> {
    Ok(http::respond(list(state, &req).await))
}

async fn list(state: &State, req: &Request) -> Result<http::Reply, shared::ApiError> {
    let (query, page) = catalog::parse_event_query(|name| http::query_param(req, name))?;
    let board = state.seat_board().await?;
    let listed = catalog::list_events(&state.events(), &board, query, page).await?;
    http::Reply::ok(&listed.view())
}
