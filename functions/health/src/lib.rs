//! `GET /health`: every datastore and the broker. Anyone gets up or down;
//! an admin's token also gets each check with its round-trip time.

use lambda_http::{Body, Error, Request, Response};
use shared::aws_access::{Access, KafkaUse};
use shared::{health, http, State};

/// The AWS calls this function's code makes; its role in template.yaml
/// allows these and no more (checked by the deploy rehearsal).
/// The broker check reads every topic's metadata.
pub const AWS_ACCESS: Access = Access::with_kafka(KafkaUse::DescribesAllTopics);

pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, Error> {
    let detailed = state.require_admin(&req).await.is_ok();
    Ok(http::respond(health::reply(state, detailed).await))
}
