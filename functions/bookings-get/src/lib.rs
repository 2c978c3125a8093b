//! `GET /bookings/{id}`: one of the caller's bookings (others' are 404).

use chrono::Utc;
use lambda_http::{Body, Error, Request, Response};
use shared::aws_access::Access;
use shared::{bookings, domain::booking::BookingView, http, State};

/// The AWS calls this function's code makes; its role in template.yaml
/// allows these and no more (checked by the deploy rehearsal).
/// Reads only; never publishes, so never makes a Kafka client.
pub const AWS_ACCESS: Access = Access::STORES;

pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, Error> {
    Ok(http::respond(get(state, &req).await))
}

async fn get(state: &State, req: &Request) -> Result<http::Reply, shared::ApiError> {
    let user = state.authenticate(req).await?;
    let id = bookings::parse_booking_id(&http::path_param(req, "id")?)?;
    let booking = state.bookings().await?.get(&user, id).await?;
    http::Reply::ok(&BookingView::new(&booking, Utc::now()))
}
