//! `GET /health`: every datastore and the broker, with round-trip times.

use lambda_http::{Body, Error, Request, Response};
use shared::{health, http, State};

pub async fn handle(state: &State, _req: Request) -> Result<Response<Body>, Error> {
    Ok(http::respond(health::reply(state).await))
}
