//! Scheduled (every minute on AWS): expires unpaid bookings past their
//! deadline and publishes again outbox rows no consumer has applied in time
//! (a crash before the publish, a message the broker lost).

use lambda_http::{Error, LambdaEvent};
use shared::{consumers, State};

pub async fn handle(state: &State, _event: LambdaEvent<serde_json::Value>) -> Result<consumers::SweepReport, Error> {
    Ok(consumers::sweep(state).await?)
}
