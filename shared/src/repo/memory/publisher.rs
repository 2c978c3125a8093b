//! A publisher that records instead of sending.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::locked;
use crate::{error::ApiError, kafka::Publisher};

/// A published message: topic, key, payload.
pub type Sent = (String, String, Vec<u8>);

/// Messages published, in order, instead of a broker.
#[derive(Clone, Default)]
pub struct RecordingPublisher {
    sent: Arc<Mutex<Vec<Sent>>>,
}

impl RecordingPublisher {
    /// Every message published so far (topic, key, payload), in order.
    pub fn sent(&self) -> Vec<Sent> {
        locked(&self.sent).clone()
    }
}

#[async_trait]
impl Publisher for RecordingPublisher {
    async fn publish(&self, topic: &str, key: &str, payload: &[u8]) -> Result<(), ApiError> {
        locked(&self.sent).push((topic.to_owned(), key.to_owned(), payload.to_vec()));
        Ok(())
    }
}
