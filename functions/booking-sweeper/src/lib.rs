//! Scheduled (every minute on AWS): expires unpaid bookings past their
//! deadline, drives owed refunds, and publishes again outbox rows no consumer
//! has applied in time (a crash before the publish, a message the broker
//! lost). Each step runs until drained or the invocation's time is spent.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_http::{Error, LambdaEvent};
use shared::aws_access::Access;
use shared::kafka;
use shared::{consumers, State};

/// The AWS calls this function's code makes; its role in template.yaml
/// allows these and no more (checked by the deploy rehearsal).
/// Expiries, and the outbox relay of every booking message.
pub const AWS_ACCESS: Access = Access::producer(&[
    kafka::BOOKING_REQUESTED,
    kafka::BOOKING_CONFIRMED,
    kafka::BOOKING_CANCELLED,
    kafka::BOOKING_EXPIRED,
]);

/// The budget when the caller gives no deadline (the local schedule and
/// tests): the schedule's period.
const NO_DEADLINE_BUDGET: Duration = Duration::from_secs(60);

pub async fn handle(state: &State, event: LambdaEvent<serde_json::Value>) -> Result<consumers::SweepReport, Error> {
    Ok(consumers::sweep(state, time_left(event.context.deadline)).await?)
}

/// Time until `deadline` (milliseconds since the epoch, as the Runtime API
/// gives it; 0 when unknown).
fn time_left(deadline_ms: u64) -> Duration {
    if deadline_ms == 0 {
        return NO_DEADLINE_BUDGET;
    }
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    Duration::from_millis(deadline_ms.saturating_sub(now_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_is_the_time_to_the_deadline() {
        let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        let left = time_left(now_ms + 30_000);
        assert!(left <= Duration::from_secs(30) && left > Duration::from_secs(29), "{left:?}");
        assert_eq!(time_left(now_ms - 1_000), Duration::ZERO);
        assert_eq!(time_left(0), NO_DEADLINE_BUDGET);
    }
}
