//! Kafka consumer (MSK event source): the booking topics → per-event,
//! per-minute sales counters (bookings made, paid, cancelled, lapsed,
//! failed; seats; revenue and refunds) behind the organisers' dashboard.

use aws_lambda_events::event::kafka::KafkaEvent;
use lambda_http::{Error, LambdaEvent};
use shared::aws_access::Access;
use shared::kafka;
use shared::{consumers, State};

/// The topics whose messages move the counters.
pub const TOPICS: &[&str] = &[
    kafka::BOOKING_REQUESTED,
    kafka::BOOKING_CONFIRMED,
    kafka::BOOKING_CANCELLED,
    kafka::BOOKING_EXPIRED,
    kafka::SEAT_RESERVATION_FAILED,
];

/// The AWS calls this function's code makes; its role in template.yaml
/// allows these and no more (checked by the deploy rehearsal). It answers
/// nothing, and dead-letters what it cannot read.
pub const AWS_ACCESS: Access = Access::consumer(TOPICS, &[]);

/// A failure worth retrying fails the batch, which the event source mapping
/// delivers again; a replay counts nothing twice.
pub async fn handle(state: &State, event: LambdaEvent<KafkaEvent>) -> Result<consumers::BatchReport, Error> {
    Ok(consumers::count_sales(state, event.payload).await?)
}
