//! `POST /bookings/{id}/pay`: charges the booking's server-computed total
//! once and confirms it. `Idempotency-Key` makes retries safe.

use chrono::Utc;
use lambda_http::{Body, Error, Request, Response};
use shared::aws_access::Access;
use shared::kafka;
use shared::{bookings, domain::booking::BookingView, http, idempotency, State};

/// The AWS calls this function's code makes; its role in template.yaml
/// allows these and no more (checked by the deploy rehearsal).
pub const AWS_ACCESS: Access = Access::producer(&[kafka::BOOKING_CONFIRMED]);

pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, Error> {
    Ok(http::respond(pay(state, &req).await))
}

async fn pay(state: &State, req: &Request) -> Result<http::Reply, shared::ApiError> {
    let user = state.authenticate(req).await?;
    let id = bookings::parse_booking_id(&http::path_param(req, "id")?)?;
    let bookings = state.bookings().await?;
    let guard = state.card_testing_guard().await?;
    idempotency::once_per_request(state, req, user.sub, &format!("/bookings/{id}/pay"), || async {
        let card = http::parse_json(req, state.config.max_body_bytes)?;
        let paying = bookings.pay(&user, id, card, state.payments.as_ref());
        let booking = guard.pay(user.sub, id, &state.client_ip(req), paying).await?;
        http::Reply::ok(&BookingView::new(&booking, Utc::now()))
    })
    .await
}
