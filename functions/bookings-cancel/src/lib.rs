//! `PUT /bookings/{id}/cancel`: cancels the caller's booking and frees its
//! seats; a paid booking is refunded. Cancelling twice is harmless.

use chrono::Utc;
use lambda_http::{Body, Error, Request, Response};
use shared::aws_access::Access;
use shared::kafka;
use shared::{bookings, domain::booking::BookingView, http, State};

/// The AWS calls this function's code makes; its role in template.yaml
/// allows these and no more (checked by the deploy rehearsal).
pub const AWS_ACCESS: Access = Access::producer(&[kafka::BOOKING_CANCELLED]);

pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, Error> {
    Ok(http::respond(cancel(state, &req).await))
}

async fn cancel(state: &State, req: &Request) -> Result<http::Reply, shared::ApiError> {
    let user = state.authenticate(req).await?;
    let id = bookings::parse_booking_id(&http::path_param(req, "id")?)?;
    let booking = state.bookings().await?.cancel(&user, id, state.payments.as_ref()).await?;
    http::Reply::ok(&BookingView::new(&booking, Utc::now()))
}
