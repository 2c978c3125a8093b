//! `PUT /events/{id}/onsale` (admin only): when the event's sale opens, and
//! whether fans go through the waiting room first (its rate, pass lifetime
//! and per-user seat limit).

use lambda_http::{Body, Error, Request, Response};
use shared::aws_access::Access;
use shared::{domain::event::EventId, http, State};

/// The AWS calls this function's code makes; its role in template.yaml
/// allows these and no more (checked by the deploy rehearsal).
pub const AWS_ACCESS: Access = Access::STORES;

pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, Error> {
    Ok(http::respond(set(state, &req).await))
}

async fn set(state: &State, req: &Request) -> Result<http::Reply, shared::ApiError> {
    let admin = state.require_admin(req).await?;
    let event = EventId::parse(&http::path_param(req, "id")?)?;
    let input = http::parse_json(req, state.config.max_body_bytes)?;
    let sale = state.waiting_room().await?.set_on_sale(&admin, &event, input).await?;
    http::Reply::ok(&sale)
}
