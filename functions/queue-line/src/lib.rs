//! `GET /events/{id}/queue`: the line as a whole (how far admission has
//! got, how many wait, sold out or not). The same answer for everyone, so a
//! CDN in front may serve it for a second; a fan who knows their position
//! learns from it when to fetch their pass.

use lambda_http::{Body, Error, Request, Response};
use shared::aws_access::Access;
use shared::{domain::event::EventId, http, State};

/// The AWS calls this function's code makes; its role in template.yaml
/// allows these and no more (checked by the deploy rehearsal).
pub const AWS_ACCESS: Access = Access::STORES;

pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, Error> {
    Ok(http::respond(line(state, &req).await))
}

async fn line(state: &State, req: &Request) -> Result<http::Reply, shared::ApiError> {
    let event = EventId::parse(&http::path_param(req, "id")?)?;
    let view = state.waiting_room().await?.line(&event, chrono::Utc::now()).await?;
    Ok(http::Reply::ok(&view)?.cache_control("public, max-age=1"))
}
