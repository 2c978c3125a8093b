//! `POST /bookings`: holds the seats for the hold time and records a PENDING
//! booking. An `Idempotency-Key` makes retries return the first answer.

use chrono::Utc;
use lambda_http::{Body, Error, Request, Response};
use shared::aws_access::Access;
use shared::kafka;
use shared::{domain::booking::BookingView, http, idempotency, repo::RateLimiter, State};

/// The AWS calls this function's code makes; its role in template.yaml
/// allows these and no more (checked by the deploy rehearsal).
/// booking.expired: a new booking lazily expires the stale holds it conflicts with.
pub const AWS_ACCESS: Access = Access::producer(&[kafka::BOOKING_REQUESTED, kafka::BOOKING_EXPIRED]);

pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, Error> {
    Ok(http::respond(create(state, &req).await))
}

async fn create(state: &State, req: &Request) -> Result<http::Reply, shared::ApiError> {
    let user = state.authenticate(req).await?;
    let per_minute = state.config.bookings_per_ip_per_minute;
    state.rate_limiter().await?.check("bookings", &state.client_ip(req), per_minute).await?;
    let bookings = state.bookings().await?;
    idempotency::once_per_request(state, req, user.sub, "/bookings", || async {
        let booking = bookings.create(&user, http::parse_json(req, state.config.max_body_bytes)?, Utc::now()).await?;
        http::Reply::created(&BookingView::new(&booking, Utc::now()))
    })
    .await
}
