//! Kafka consumer (MSK event source): seat.reserved / seat.reservation_failed → booking RESERVED or FAILED.

use aws_lambda_events::event::kafka::KafkaEvent;
use lambda_http::{Error, LambdaEvent};
use shared::{consumers, State};

/// A failure that is worth retrying fails the batch, which the event source
/// mapping delivers again; replays are harmless.
pub async fn handle(state: &State, event: LambdaEvent<KafkaEvent>) -> Result<consumers::BatchReport, Error> {
    Ok(consumers::apply_seat_outcome(state, event.payload).await?)
}
