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

/// Connection settings shared by producers, consumers and the admin client:
/// brokers, and TLS + SCRAM when credentials are configured.
pub fn client_config(config: &crate::config::Config) -> ClientConfig {
    let mut client = ClientConfig::new();
    client.set("bootstrap.servers", &config.kafka_brokers);
    if let Some((user, password)) = &config.kafka_scram {
        client
            .set("security.protocol", "SASL_SSL")
            .set("sasl.mechanisms", "SCRAM-SHA-512")
            .set("sasl.username", user)
            .set("sasl.password", password.expose());
    }
    client
}

/// An idempotent producer that waits for all in-sync replicas. linger.ms=1
/// because the 5 ms default would add 5 ms to every request that publishes.
pub fn producer(config: &crate::config::Config) -> Result<FutureProducer, KafkaError> {
    client_config(config)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "1")
        .set("message.timeout.ms", "10000")
        .set("socket.connection.setup.timeout.ms", "3000")
        .create()
}

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rdkafka::producer::FutureRecord;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ApiError;

/// Every message: an id consumers deduplicate on, the type, when it
/// happened, a schema version, and the payload.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Envelope<T> {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub kind: String,
    pub occurred_at: DateTime<Utc>,
    pub version: u32,
    pub data: T,
}

impl<T: Serialize> Envelope<T> {
    pub fn new(kind: &str, data: T) -> Self {
        Envelope { id: Uuid::now_v7(), kind: kind.to_owned(), occurred_at: Utc::now(), version: 1, data }
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>, ApiError> {
        serde_json::to_vec(self).map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("encoding message")))
    }
}

#[async_trait]
pub trait Publisher: Send + Sync {
    /// Publishes and waits for the broker's acknowledgement.
    async fn publish(&self, topic: &str, key: &str, payload: &[u8]) -> Result<(), ApiError>;
}

pub struct KafkaPublisher<'a> {
    pub producer: &'a FutureProducer,
    pub topic_prefix: &'a str,
}

#[async_trait]
impl Publisher for KafkaPublisher<'_> {
    async fn publish(&self, topic: &str, key: &str, payload: &[u8]) -> Result<(), ApiError> {
        let topic = format!("{}{topic}", self.topic_prefix);
        let record = FutureRecord::to(&topic).key(key).payload(payload);
        // Awaits the delivery report without blocking the runtime thread.
        self.producer.send(record, Duration::from_secs(5)).await.map(drop).map_err(|(err, _)| {
            tracing::error!(topic, error = %err, "kafka publish failed");
            ApiError::Unavailable("The message broker is temporarily unavailable".into())
        })
    }
}
