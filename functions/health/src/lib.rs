//! `GET /health`: every datastore and the broker. Anyone gets up or down;
//! an admin's token also gets each check with its round-trip time.

use lambda_http::{Body, Error, Request, Response};
use shared::{health, http, State};

pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, Error> {
    let detailed = state.jwt.require_admin(&req).is_ok();
    Ok(http::respond(health::reply(state, detailed).await))
}
