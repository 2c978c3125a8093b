//! Kafka consumer (MSK event source): booking.confirmed / cancelled / expired, seat.reservation_failed and waitlist.offered → one e-mail to the booking's owner per booking and kind (SES on AWS, SMTP locally), the tickets attached to confirmations.

use aws_lambda_events::event::kafka::KafkaEvent;
use lambda_http::{Error, LambdaEvent};
use shared::aws_access::Access;
use shared::kafka;
use shared::{consumers, State};

/// The AWS calls this function's code makes; its role in template.yaml
/// allows these and no more (checked by the deploy rehearsal).
pub const AWS_ACCESS: Access = Access::consumer(
    &[
        kafka::BOOKING_CONFIRMED,
        kafka::BOOKING_CANCELLED,
        kafka::BOOKING_EXPIRED,
        kafka::SEAT_RESERVATION_FAILED,
        kafka::WAITLIST_OFFERED,
    ],
    &[],
)
.reading_ticket_key()
.sending_mail();

/// A send that fails fails the batch, which the event source mapping
/// delivers again; the ledger keeps a redelivery from sending twice.
pub async fn handle(state: &State, event: LambdaEvent<KafkaEvent>) -> Result<consumers::BatchReport, Error> {
    Ok(consumers::notify(state, event.payload).await?)
}
