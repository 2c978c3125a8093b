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
        .map(|(id, mut body)| {
            // The samples are on sale from the moment they are loaded.
            body["salesOpenAt"] = now.to_rfc3339().into();
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

/// An account with `role` under id `user` (made if missing, its role set if
/// not), and a token for it: privileged calls check the account in the store,
/// so tests and the bench cannot mint an admin or door-staff token for an id
/// nobody registered. The password hash is not a hash: nobody signs in.
pub async fn privileged_token(
    state: &crate::State,
    user: uuid::Uuid,
    role: crate::domain::user::Role,
) -> Result<String, ApiError> {
    let email = format!("{}@accounts.test", user.simple());
    sqlx::query(
        "INSERT INTO users_demo.users (id, email, name, password_hash, role) VALUES ($1, $2, 'Test account', '!', $3)
         ON CONFLICT (id) DO UPDATE SET role = EXCLUDED.role",
    )
    .bind(user)
    .bind(&email)
    .bind(role)
    .execute(state.pg())
    .await?;
    let version = crate::repo::AccessStore::access(&state.access(), user).await?.map_or(0, |a| a.token_version);
    state.jwt.issue_versioned(user, &email, role, crate::domain::user::Tier::Regular, version)
}
