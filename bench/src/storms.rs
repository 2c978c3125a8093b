//! Oversell storms: many buyers (each a separate user) at once on an event
//! of ten seats, through the gateway; then PostgreSQL, Redis and the Mongo
//! read model are checked to agree that every seat was sold at most once.

use std::{collections::HashMap, sync::Arc, time::Duration};

use anyhow::Context;
use futures::TryStreamExt;
use shared::{
    domain::{
        event::{EventId, SeatStatus},
        user::{Role, Tier},
    },
    repo::redis_seats::board_key,
    State,
};

pub struct StormOutcome {
    pub created: usize,
    pub conflicts: usize,
    /// Anything but 201 or 409 (none expected).
    pub errors: usize,
    pub micros: Vec<u64>,
    /// Seats in more than one active booking in PostgreSQL.
    pub oversold: usize,
    /// Whether Redis and the Mongo read model name the same owner as
    /// PostgreSQL for every sold seat (Mongo is given up to 30 s).
    pub stores_agree: bool,
}

async fn ten_seat_event(http: &reqwest::Client, base: &str, admin: &str) -> anyhow::Result<String> {
    let body = serde_json::json!({
        "name": format!("Storm {}", uuid::Uuid::new_v4()), "venue": { "name": "Storm Hall" },
        "date": (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339(),
        "totalSeats": 10, "price": 80, "description": "oversell storm", "category": "bench",
        "salesOpenAt": chrono::Utc::now().to_rfc3339()
    });
    let created: serde_json::Value =
        http.post(format!("{base}/events")).bearer_auth(admin).json(&body).send().await?.json().await?;
    Ok(created["data"]["id"].as_str().context("storm event id")?.to_owned())
}

pub async fn storm(
    http: &reqwest::Client,
    base: &str,
    state: &Arc<State>,
    admin: &str,
    buyers: usize,
) -> anyhow::Result<StormOutcome> {
    let event = ten_seat_event(http, base, admin).await?;
    let url = Arc::new(format!("{base}/bookings"));
    let attempts = (0..buyers).map(|i| {
        let (http, url, state, event) = (http.clone(), url.clone(), state.clone(), event.clone());
        tokio::spawn(async move {
            let token = state.jwt.issue(uuid::Uuid::new_v4(), "storm@bench", Role::User, Tier::Regular).ok()?;
            let body = serde_json::json!({ "eventId": event, "seatIds": [format!("{event}_A{}", i % 10 + 1)] });
            let sent = std::time::Instant::now();
            let status = http.post(url.as_str()).bearer_auth(token).json(&body).send().await.ok()?.status();
            Some((status.as_u16(), sent.elapsed().as_micros() as u64))
        })
    });
    let answers: Vec<Option<(u16, u64)>> =
        futures::future::join_all(attempts).await.into_iter().map(|r| r.ok().flatten()).collect();
    let count = |code: u16| answers.iter().flatten().filter(|(s, _)| *s == code).count();
    let (created, conflicts) = (count(201), count(409));
    let micros = answers.iter().flatten().map(|(_, us)| *us).collect();

    let sold: Vec<(String, uuid::Uuid)> =
        sqlx::query_as("SELECT seat_label, booking_id FROM bookings_demo.booking_seats WHERE event_id = $1 AND active")
            .bind(&event)
            .fetch_all(state.pg())
            .await?;
    let mut owners: HashMap<String, Vec<String>> = HashMap::new();
    for (label, booking) in &sold {
        owners.entry(label.clone()).or_default().push(booking.to_string());
    }
    let oversold = owners.values().filter(|o| o.len() > 1).count();

    let mut redis = state.redis().await?;
    let board: HashMap<String, String> =
        redis::cmd("HGETALL").arg(board_key(&EventId::parse(&event)?)).query_async(&mut redis).await?;
    let redis_agrees =
        owners.iter().all(|(label, o)| board.get(label).is_some_and(|entry| entry.contains(o[0].as_str())));
    let mongo_agrees = async {
        let seats = state.events().seats().clone();
        for _ in 0..120 {
            let docs: Vec<_> = seats.find(mongodb::bson::doc! { "eventId": &event }).await?.try_collect().await?;
            let agree = docs.iter().all(|seat: &shared::repo::mongo_events::SeatDoc| match owners.get(&seat.label) {
                Some(o) => seat.status != SeatStatus::Available && seat.booking_id.as_deref() == Some(o[0].as_str()),
                None => seat.status == SeatStatus::Available,
            });
            if agree {
                return anyhow::Ok(true);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        Ok(false)
    }
    .await?;
    Ok(StormOutcome {
        created,
        conflicts,
        errors: buyers - created - conflicts,
        micros,
        oversold,
        stores_agree: redis_agrees && mongo_agrees && created == sold.len(),
    })
}
