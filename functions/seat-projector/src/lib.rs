//! Kafka consumer (MSK event source): booking.confirmed / cancelled / expired → seats booked or available in the Mongo read model.

use aws_lambda_events::event::kafka::KafkaEvent;
use lambda_http::{Error, LambdaEvent};
use shared::aws_access::Access;
use shared::kafka;
use shared::{consumers, State};

/// The AWS calls this function's code makes; its role in template.yaml
/// allows these and no more (checked by the deploy rehearsal).
pub const AWS_ACCESS: Access =
    Access::consumer(&[kafka::BOOKING_CONFIRMED, kafka::BOOKING_CANCELLED, kafka::BOOKING_EXPIRED], &[]);

/// A failure that is worth retrying fails the batch, which the event source
/// mapping delivers again; replays are harmless.
pub async fn handle(state: &State, event: LambdaEvent<KafkaEvent>) -> Result<consumers::BatchReport, Error> {
    Ok(consumers::project_seats(state, event.payload).await?)
}
