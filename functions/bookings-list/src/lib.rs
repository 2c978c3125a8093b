//! `GET /bookings`: the caller's bookings, newest first, paginated, with an
//! optional `status` filter.

use chrono::Utc;
use lambda_http::{Body, Error, Request, Response};
use shared::aws_access::Access;
use shared::{bookings, http, State};

/// The AWS calls this function's code makes; its role in template.yaml
/// allows these and no more (checked by the deploy rehearsal).
pub const AWS_ACCESS: Access = Access::STORES;

pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, Error> {
    Ok(http::respond(list(state, &req).await))
}

async fn list(state: &State, req: &Request) -> Result<http::Reply, shared::ApiError> {
    let user = state.authenticate(req).await?;
    let (status, limit, page) = bookings::parse_list_query(|name| http::query_param(req, name))?;
    let page = bookings::list(&state.booking_repo(), &user, status, limit, page, Utc::now()).await?;
    http::Reply::ok(&page)
}
