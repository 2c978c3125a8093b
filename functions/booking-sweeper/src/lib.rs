//! Scheduled (every minute on AWS): expires unpaid bookings past their
//! deadline and relays outbox rows a crash left unpublished.

use lambda_http::{Error, LambdaEvent};
use shared::{consumers, State};

pub async fn handle(state: &State, _event: LambdaEvent<serde_json::Value>) -> Result<consumers::SweepReport, Error> {
    Ok(consumers::sweep(state).await?)
}
