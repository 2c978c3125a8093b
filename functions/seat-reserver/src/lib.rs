//! Kafka consumer (MSK event source): booking.requested → hold the seats in the Mongo read model; answers seat.reserved or seat.reservation_failed.

use aws_lambda_events::event::kafka::KafkaEvent;
use lambda_http::{Error, LambdaEvent};
use shared::{consumers, State};

/// A failure that is worth retrying fails the batch, which the event source
/// mapping delivers again; replays are harmless.
pub async fn handle(state: &State, event: LambdaEvent<KafkaEvent>) -> Result<consumers::BatchReport, Error> {
    Ok(consumers::reserve_seats(state, event.payload).await?)
}
