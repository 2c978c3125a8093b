//! `GET /bookings/{id}/tickets`: the caller's tickets for a paid booking,
//! one per seat, each a signed code and its QR code (SVG).

use lambda_http::{Body, Error, Request, Response};
use shared::aws_access::Access;
use shared::{bookings, http, State};

/// The AWS calls this function's code makes; its role in template.yaml
/// allows these and no more (checked by the deploy rehearsal).
pub const AWS_ACCESS: Access = Access::TICKETS;

pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, Error> {
    Ok(http::respond(tickets(state, &req).await))
}

async fn tickets(state: &State, req: &Request) -> Result<http::Reply, shared::ApiError> {
    let user = state.authenticate(req).await?;
    let id = bookings::parse_booking_id(&http::path_param(req, "id")?)?;
    let tickets = state.tickets()?.of_booking(&user, id).await?;
    // Each ticket admits once; no shared cache may keep it.
    Ok(http::Reply::ok(&tickets)?.cache_control("private, no-store"))
}
