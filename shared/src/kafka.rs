//! Kafka: topic names, the message envelope and the producer settings.

use rdkafka::{config::ClientConfig, error::KafkaError, producer::FutureProducer};

pub const BOOKING_REQUESTED: &str = "booking.requested";
pub const SEAT_RESERVED: &str = "seat.reserved";
pub const SEAT_RESERVATION_FAILED: &str = "seat.reservation_failed";
pub const BOOKING_CONFIRMED: &str = "booking.confirmed";
pub const BOOKING_CANCELLED: &str = "booking.cancelled";
pub const BOOKING_EXPIRED: &str = "booking.expired";
pub const EVENT_CREATED: &str = "event.created";

/// Every topic the system produces to, created at setup with 3 partitions.
pub const TOPICS: [&str; 7] = [
    BOOKING_REQUESTED,
    SEAT_RESERVED,
    SEAT_RESERVATION_FAILED,
    BOOKING_CONFIRMED,
    BOOKING_CANCELLED,
    BOOKING_EXPIRED,
    EVENT_CREATED,
];

pub const PARTITIONS: i32 = 3;

/// The dead-letter topic of a consumed topic.
pub fn dead_letter_topic(topic: &str) -> String {
    format!("{topic}.dlq")
}

/// An idempotent producer that waits for all in-sync replicas. linger.ms=1
/// because the 5 ms default would add 5 ms to every request that publishes.
pub fn producer(brokers: &str) -> Result<FutureProducer, KafkaError> {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "1")
        .set("message.timeout.ms", "10000")
        .set("socket.connection.setup.timeout.ms", "3000")
        .create()
}
