//! The sample events. Stable ids so README examples work across restarts;
//! seeding again adds nothing and never touches seat status.

use chrono::{DateTime, Duration, Timelike, Utc};
use serde_json::json;

use crate::{
    domain::event::{Event, EventId, NewEventRequest},
    error::ApiError,
    repo::EventCatalog,
};

pub const TAYLOR_SWIFT: &str = "taylor-swift-eras-tour";
pub const ED_SHEERAN: &str = "ed-sheeran-mathematics-tour";
pub const JAZZ_NIGHT: &str = "local-jazz-night";

/// The three sample events, dated a few months after `now` (kept as first
/// stored: a re-seed does not move them).
pub fn sample_events(now: DateTime<Utc>) -> Vec<Event> {
    let evening = |days: i64| {
        let day = now + Duration::days(days);
        day.with_hour(20)
            .and_then(|d| d.with_minute(0))
            .and_then(|d| d.with_second(0))
            .and_then(|d| d.with_nanosecond(0))
            .unwrap_or(day)
            .to_rfc3339()
    };
    let specs = [
        (
            TAYLOR_SWIFT,
            json!({
                "name": "Taylor Swift - The Eras Tour",
                "description": "A journey through every musical era of Taylor Swift's career.",
                "category": "concert",
                "date": evening(90),
                "venue": { "name": "Madison Square Garden", "city": "New York", "address": "4 Pennsylvania Plaza, New York, NY 10001", "capacity": 100 },
                "artist": { "name": "Taylor Swift", "genre": "Pop" },
                "totalSeats": 100,
                "sections": [
                    { "name": "VIP", "tier": "vip", "price": 225, "rows": 1, "seatsPerRow": 10 },
                    { "name": "Premium", "tier": "premium", "price": 180, "rows": 1, "seatsPerRow": 10 },
                    { "name": "Regular", "tier": "regular", "price": 150, "rows": 1, "seatsPerRow": 80 }
                ]
            }),
        ),
        (
            ED_SHEERAN,
            json!({
                "name": "Ed Sheeran - Mathematics Tour",
                "description": "Ed Sheeran live with his loop pedal and the Mathematics album.",
                "category": "concert",
                "date": evening(120),
                "venue": { "name": "Wembley Stadium", "city": "London", "address": "Wembley, London HA9 0WS", "capacity": 80 },
                "artist": { "name": "Ed Sheeran", "genre": "Pop" },
                "totalSeats": 80,
                "price": 120
            }),
        ),
        (
            JAZZ_NIGHT,
            json!({
                "name": "Local Jazz Night",
                "description": "An intimate evening of live jazz.",
                "category": "jazz",
                "date": evening(30),
                "venue": { "name": "Blue Note Jazz Club", "city": "New York", "address": "131 W 3rd St, New York, NY 10012", "capacity": 50 },
                "artist": { "name": "The House Quartet", "genre": "Jazz" },
                "totalSeats": 50,
                "price": 45
            }),
        ),
    ];
    specs
        .into_iter()
        .map(|(id, body)| {
            serde_json::from_value::<NewEventRequest>(body)
                .expect("sample event JSON matches the request type")
                .into_event(EventId::parse(id).expect("sample ids are valid"), now)
                .expect("sample events are valid")
        })
        .collect()
}

/// Inserts whatever of the sample data is missing; returns how many events
/// were new.
pub async fn seed(catalog: &dyn EventCatalog, now: DateTime<Utc>) -> Result<usize, ApiError> {
    let mut created = 0;
    for event in sample_events(now) {
        if catalog.insert(&event).await? {
            created += 1;
        }
    }
    Ok(created)
}
