//! Seats in memory: the hold board as the Redis scripts keep it, and the
//! read model as the consumers keep it in Mongo.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use async_trait::async_trait;
use chrono::Utc;

use super::locked;
use crate::{
    domain::event::{Event, EventId, SeatStatus},
    error::ApiError,
    repo::{LiveSeats, SeatBoard, SeatClaim, SeatHolds, SeatReadModel, TakenSeat},
};

#[derive(Debug, Clone)]
enum Mark {
    Held { owner: String, until_ms: i64 },
    Booked { owner: String },
}

/// The seat board as the Redis scripts keep it: held until a deadline (a
/// lapsed hold reads as free), or booked.
#[derive(Clone, Default)]
pub struct MemoryHolds {
    seats: Arc<Mutex<HashMap<(EventId, String), Mark>>>,
}

impl MemoryHolds {
    /// Forgets every hold, as a flushed or failed-over Redis would.
    pub fn flush(&self) {
        locked(&self.seats).clear();
    }
}

#[async_trait]
impl SeatHolds for MemoryHolds {
    async fn hold(
        &self,
        event: &EventId,
        booking: &str,
        labels: &[String],
        expires_at_ms: i64,
    ) -> Result<Vec<String>, ApiError> {
        let mut seats = locked(&self.seats);
        let now_ms = Utc::now().timestamp_millis();
        let taken: Vec<String> = labels
            .iter()
            .filter(|label| match seats.get(&(event.clone(), label.to_string())) {
                Some(Mark::Booked { owner }) => owner != booking,
                Some(Mark::Held { owner, until_ms }) => owner != booking && *until_ms > now_ms,
                None => false,
            })
            .cloned()
            .collect();
        if taken.is_empty() {
            for label in labels {
                let slot = seats.entry((event.clone(), label.clone()));
                let mark = slot.or_insert(Mark::Held { owner: booking.to_owned(), until_ms: expires_at_ms });
                if let Mark::Held { .. } = mark {
                    *mark = Mark::Held { owner: booking.to_owned(), until_ms: expires_at_ms };
                }
            }
        }
        Ok(taken)
    }

    async fn release(&self, event: &EventId, booking: &str, labels: &[String]) -> Result<u32, ApiError> {
        let mut seats = locked(&self.seats);
        let mut released = 0;
        for label in labels {
            let key = (event.clone(), label.clone());
            let owned =
                matches!(seats.get(&key), Some(Mark::Held { owner, .. } | Mark::Booked { owner }) if owner == booking);
            if owned {
                seats.remove(&key);
                released += 1;
            }
        }
        Ok(released)
    }

    async fn confirm(&self, event: &EventId, booking: &str, labels: &[String]) -> Result<Vec<String>, ApiError> {
        let mut seats = locked(&self.seats);
        let mut conflicts = Vec::new();
        for label in labels {
            let key = (event.clone(), label.clone());
            match seats.get(&key) {
                Some(Mark::Booked { owner }) if owner != booking => conflicts.push(label.clone()),
                _ => {
                    seats.insert(key, Mark::Booked { owner: booking.to_owned() });
                }
            }
        }
        Ok(conflicts)
    }
}

#[async_trait]
impl SeatBoard for MemoryHolds {
    async fn live(&self, event: &EventId) -> Result<LiveSeats, ApiError> {
        let now_ms = Utc::now().timestamp_millis();
        Ok(locked(&self.seats)
            .iter()
            .filter(|((of, _), _)| of == event)
            .filter_map(|((_, label), mark)| match mark {
                Mark::Booked { .. } => Some((label.clone(), SeatStatus::Booked)),
                Mark::Held { until_ms, .. } => (*until_ms > now_ms).then(|| (label.clone(), SeatStatus::Held)),
            })
            .collect())
    }

    async fn live_many(&self, events: &[EventId]) -> Result<Vec<LiveSeats>, ApiError> {
        let mut boards = Vec::with_capacity(events.len());
        for event in events {
            boards.push(self.live(event).await?);
        }
        Ok(boards)
    }
}

/// A seat in the read model: who has it, and whether it is booked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSeat {
    Available,
    Held(String),
    Booked(String),
}

impl ModelSeat {
    fn holder(&self) -> Option<&str> {
        match self {
            ModelSeat::Available => None,
            ModelSeat::Held(booking) | ModelSeat::Booked(booking) => Some(booking),
        }
    }
}

/// The seat read model as the consumers keep it in Mongo: seat documents
/// exist only for the events put in, and every write is conditional on
/// the seat's owner.
#[derive(Clone, Default)]
pub struct MemorySeatModel {
    seats: Arc<Mutex<HashMap<(EventId, String), ModelSeat>>>,
}

impl MemorySeatModel {
    /// Every seat of `event`, available.
    pub fn put(&self, event: &Event) {
        let mut seats = locked(&self.seats);
        for seat in event.seats() {
            seats.insert((event.id.clone(), seat.label), ModelSeat::Available);
        }
    }

    pub fn seat(&self, event: &EventId, label: &str) -> Option<ModelSeat> {
        locked(&self.seats).get(&(event.clone(), label.to_owned())).cloned()
    }

    /// Sets a seat as another writer left it.
    pub fn set(&self, event: &EventId, label: &str, seat: ModelSeat) {
        locked(&self.seats).insert((event.clone(), label.to_owned()), seat);
    }
}

#[async_trait]
impl SeatReadModel for MemorySeatModel {
    async fn hold_seats(&self, claims: &[SeatClaim<'_>]) -> Result<Vec<Vec<TakenSeat>>, ApiError> {
        let mut seats = locked(&self.seats);
        let mut taken = Vec::with_capacity(claims.len());
        for claim in claims {
            let others: Vec<TakenSeat> = claim
                .labels
                .iter()
                .filter_map(|label| match seats.get(&(claim.event.clone(), label.clone())) {
                    None => Some(TakenSeat { label: label.clone(), holder: None }),
                    Some(seat) if seat.holder().is_some_and(|holder| holder != claim.booking) => {
                        Some(TakenSeat { label: label.clone(), holder: seat.holder().map(str::to_owned) })
                    }
                    Some(_) => None,
                })
                .collect();
            if others.is_empty() {
                for label in claim.labels {
                    let seat = seats.get_mut(&(claim.event.clone(), label.clone())).expect("checked above");
                    if *seat == ModelSeat::Available {
                        *seat = ModelSeat::Held(claim.booking.to_owned());
                    }
                }
            }
            taken.push(others);
        }
        Ok(taken)
    }

    async fn book_seats(&self, event: &EventId, booking: &str, labels: &[String]) -> Result<u64, ApiError> {
        let mut seats = locked(&self.seats);
        let mut booked = 0;
        for label in labels {
            if let Some(seat) = seats.get_mut(&(event.clone(), label.clone())) {
                if seat.holder().is_none_or(|holder| holder == booking) {
                    *seat = ModelSeat::Booked(booking.to_owned());
                    booked += 1;
                }
            }
        }
        Ok(booked)
    }

    async fn release_seats(&self, event: &EventId, booking: &str, labels: &[String]) -> Result<u64, ApiError> {
        let mut seats = locked(&self.seats);
        let mut released = 0;
        for label in labels {
            if let Some(seat) = seats.get_mut(&(event.clone(), label.clone())) {
                if seat.holder() == Some(booking) {
                    *seat = ModelSeat::Available;
                    released += 1;
                }
            }
        }
        Ok(released)
    }
}
