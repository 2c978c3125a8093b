//! `GET /bookings`: the caller's bookings, newest first, paginated, with an
//! optional `status` filter.

use chrono::Utc;
use lambda_http::{Body, Error, Request, Response};
use shared::aws_access::Access;
use shared::{bookings, domain::booking::BookingView, http, State};

/// The AWS calls this function's code makes; its role in template.yaml
/// allows these and no more (checked by the deploy rehearsal).
pub const AWS_ACCESS: Access = Access::STORES;

pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, Error> {
    Ok(http::respond(list(state, &req).await))
}

async fn list(state: &State, req: &Request) -> Result<http::Reply, shared::ApiError> {
    let user = state.jwt.authenticate(req)?;
    let (status, limit, page) = bookings::parse_list_query(|name| http::query_param(req, name))?;
    let offset = u64::from(page - 1) * u64::from(limit);
    let (found, total) = state.booking_store().list_for_user(user.sub, status, limit, offset).await?;
    let now = Utc::now();
    http::Reply::ok(&serde_json::json!({
        "bookings": found.iter().map(|b| BookingView::new(b, now)).collect::<Vec<_>>(),
        "page": page,
        "limit": limit,
        "total": total,
        "totalPages": total.div_ceil(u64::from(limit)),
    }))
}
