//! Kafka consumer (MSK event source): seat.reserved / seat.reservation_failed → booking RESERVED or FAILED.

use aws_lambda_events::event::kafka::KafkaEvent;
use lambda_http::{Error, LambdaEvent};
use shared::aws_access::Access;
use shared::kafka;
use shared::{consumers, State};

/// The AWS calls this function's code makes; its role in template.yaml
/// allows these and no more (checked by the deploy rehearsal).
/// Only dead letters: a failed booking's seats were never held in the read model, so no message.
pub const AWS_ACCESS: Access = Access::consumer(&[kafka::SEAT_RESERVED, kafka::SEAT_RESERVATION_FAILED], &[]);

/// A failure that is worth retrying fails the batch, which the event source
/// mapping delivers again; replays are harmless.
pub async fn handle(state: &State, event: LambdaEvent<KafkaEvent>) -> Result<consumers::BatchReport, Error> {
    Ok(consumers::apply_seat_outcome(state, event.payload).await?)
}
