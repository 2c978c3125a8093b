//! An admission gate that lets everyone in.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{
    auth::Claims, domain::event::EventId, domain::onsale::Admission, error::ApiError, waiting_room::AdmissionGate,
};

/// An on-sale with no waiting room and no limit of its own: every fan may
/// book.
#[derive(Clone, Copy, Default)]
pub struct OpenDoors;

#[async_trait]
impl AdmissionGate for OpenDoors {
    async fn admit(
        &self,
        _user: &Claims,
        _event: &EventId,
        _pass: Option<&str>,
        _now: DateTime<Utc>,
    ) -> Result<Admission, ApiError> {
        Ok(Admission { max_seats_per_user: None })
    }

    async fn offer_terms(&self, _event: &EventId, _now: DateTime<Utc>) -> Result<Option<Admission>, ApiError> {
        Ok(Some(Admission::default()))
    }
}
