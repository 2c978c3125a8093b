//! `GET /admin/events/{id}/stats` (admin only): the event's live sales —
//! seats sold, held and available per section, totals, revenue, conversion,
//! time to sell-out, admissions — and a page of its per-minute series
//! (`from`, `limit`).

use chrono::Utc;
use lambda_http::{Body, Error, Request, Response};
use shared::aws_access::Access;
use shared::{analytics, catalog, domain::event::EventId, http, State};

/// The AWS calls this function's code makes; its role in template.yaml
/// allows these and no more (checked by the deploy rehearsal).
pub const AWS_ACCESS: Access = Access::STORES;

pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, Error> {
    Ok(http::respond(stats(state, &req).await))
}

async fn stats(state: &State, req: &Request) -> Result<http::Reply, shared::ApiError> {
    state.require_admin(req).await?;
    let id = EventId::parse(&http::path_param(req, "id")?)?;
    let page = analytics::parse_series_page(|name| http::query_param(req, name))?;
    let board = state.seat_board().await?;
    let live = catalog::seat_map(&state.layouts, &state.events(), &board, &id).await?;
    let stats = analytics::event_stats(&live, &state.sales(), &page, Utc::now()).await?;
    // Organisers' figures: never kept by a shared cache.
    Ok(http::Reply::ok(&stats)?.cache_control("private, no-store"))
}
