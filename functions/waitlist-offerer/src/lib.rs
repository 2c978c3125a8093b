//! Kafka consumer (MSK event source): booking.cancelled / expired and seat.reservation_failed → the seats that came back are offered to the event's waiting list, first fan in line whose request fits, as a PENDING booking held for the claim window.

use aws_lambda_events::event::kafka::KafkaEvent;
use lambda_http::{Error, LambdaEvent};
use shared::aws_access::Access;
use shared::kafka;
use shared::{consumers, State};

/// The AWS calls this function's code makes; its role in template.yaml
/// allows these and no more (checked by the deploy rehearsal). An offer is
/// a booking: it publishes booking.requested and waitlist.offered.
pub const AWS_ACCESS: Access = Access::consumer(
    &[kafka::BOOKING_CANCELLED, kafka::BOOKING_EXPIRED, kafka::SEAT_RESERVATION_FAILED],
    &[kafka::BOOKING_REQUESTED, kafka::WAITLIST_OFFERED],
);

/// A failure that is worth retrying fails the batch, which the event source
/// mapping delivers again; a replay offers nothing twice.
pub async fn handle(state: &State, event: LambdaEvent<KafkaEvent>) -> Result<consumers::BatchReport, Error> {
    Ok(consumers::offer_returned_seats(state, event.payload).await?)
}
