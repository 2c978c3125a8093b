//! What the booking topics carry: one payload for every booking lifecycle
//! message, inside the `kafka::Envelope` that names its type.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::booking::{Booking, SeatSelection};

/// The payload of every booking lifecycle message.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BookingMessage {
    pub booking_id: Uuid,
    pub event_id: String,
    pub seats: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The booking's total, for sales analytics (absent in messages older
    /// than them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_cents: Option<i64>,
    /// On booking.cancelled of a paid booking: what is owed back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_cents: Option<i64>,
}

impl BookingMessage {
    pub fn of(booking: &Booking) -> Self {
        BookingMessage {
            booking_id: booking.id,
            event_id: booking.event_id.to_string(),
            seats: booking.labels(),
            user_id: Some(booking.user_id),
            expires_at: Some(booking.expires_at),
            reason: booking.failure_reason.clone(),
            total_cents: Some(booking.total.0),
            refund_cents: None,
        }
    }

    /// What a new booking announces (booking.requested, and
    /// waitlist.offered for an offer).
    pub fn requested(id: Uuid, user: Uuid, selection: &SeatSelection, expires_at: DateTime<Utc>) -> Self {
        BookingMessage {
            booking_id: id,
            event_id: selection.event_id.to_string(),
            seats: selection.seats.iter().map(|s| s.label.clone()).collect(),
            user_id: Some(user),
            expires_at: Some(expires_at),
            reason: None,
            total_cents: Some(selection.total.0),
            refund_cents: None,
        }
    }
}
