//! The gates of a stadium: 1,000 fans buy and pay 4 seats each, fetch their
//! tickets, and door staff scan them at 500 connections. Every ticket is
//! admitted once (checked in PostgreSQL); scans after the first are the
//! "already admitted" answer, which costs the door the same round trip.

use std::{
    fmt::Write as _,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use anyhow::Context;
use serde_json::{json, Value};
use shared::{
    domain::user::{Role, Tier},
    State,
};

use super::{capacity, create_event, Report};

const BUYERS: u64 = 1000;
const SEATS_EACH: u64 = 4;

async fn buy(
    http: &reqwest::Client,
    base: &str,
    state: &State,
    event: &str,
    buyer: u64,
) -> anyhow::Result<Vec<String>> {
    let token = state.jwt.issue(uuid::Uuid::new_v4(), "gate@bench", Role::User, Tier::Regular)?;
    let seats: Vec<String> =
        (0..SEATS_EACH).map(|k| format!("{event}_{}", super::label(buyer * SEATS_EACH + k))).collect();
    let booking: Value = http
        .post(format!("{base}/bookings"))
        .bearer_auth(&token)
        .json(&json!({ "eventId": event, "seatIds": seats }))
        .send()
        .await?
        .json()
        .await?;
    let id = booking["data"]["id"].as_str().context("booking id")?;
    let card = json!({ "paymentMethod": { "type": "card", "cardNumber": "4242 4242 4242 4242" } });
    let paid = http.post(format!("{base}/bookings/{id}/pay")).bearer_auth(&token).json(&card).send().await?;
    anyhow::ensure!(paid.status() == 200, "paying: {}", paid.text().await?);
    let tickets: Value =
        http.get(format!("{base}/bookings/{id}/tickets")).bearer_auth(&token).send().await?.json().await?;
    Ok(tickets["data"]["tickets"]
        .as_array()
        .context("tickets")?
        .iter()
        .filter_map(|t| t["code"].as_str().map(str::to_owned))
        .collect())
}

/// Runs the gates; false if any ticket was admitted twice or not at all.
pub async fn gates(report: &mut Report, base: &str, state: &Arc<State>, admin: &str) -> anyhow::Result<bool> {
    let http = super::client(600);
    let event = create_event(&http, base, admin, BUYERS * SEATS_EACH).await?;
    println!("door check-in: {BUYERS} fans buy {SEATS_EACH} seats each, then 500 connections scan");
    let mut codes = Vec::new();
    for chunk in (0..BUYERS).collect::<Vec<_>>().chunks(50) {
        let bought = futures::future::try_join_all(chunk.iter().map(|&b| buy(&http, base, state, &event, b))).await?;
        codes.extend(bought.into_iter().flatten());
    }
    let codes = Arc::new(codes);
    // Door-staff calls check the account in the store: a real one.
    let staff_id = uuid::Uuid::new_v4();
    let staff = shared::seed::privileged_token(state, staff_id, Role::Staff).await?;
    // Staff admit only at the events an admin assigned them to.
    let assigned = http.put(format!("{base}/events/{event}/staff/{staff_id}")).bearer_auth(admin).send().await?;
    anyhow::ensure!(assigned.status().is_success(), "assigning door staff: {}", assigned.status());
    let (admitted, repeated) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let scan = {
        let (http, codes, admitted, repeated) = (http.clone(), codes.clone(), admitted.clone(), repeated.clone());
        let url = Arc::new(format!("{base}/events/{event}/checkin"));
        let staff = Arc::new(staff);
        move |i: u64| {
            let (http, codes, admitted, repeated, url, staff) =
                (http.clone(), codes.clone(), admitted.clone(), repeated.clone(), url.clone(), staff.clone());
            Box::pin(async move {
                let code = &codes[(i % codes.len() as u64) as usize];
                let gate = format!("gate {}", i % 40);
                let body = json!({ "code": code, "gate": gate });
                // Both answers are the door working: admitted, or already in.
                let counter = match http.post(url.as_str()).bearer_auth(staff.as_str()).json(&body).send().await {
                    Ok(r) if r.status() == 200 => &admitted,
                    Ok(r) if r.status() == 409 => &repeated,
                    _ => return false,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                true
            }) as std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>>
        }
    };
    report.add(
        capacity("POST /events/{id}/checkin, 500 connections (40 gates)", 500, Duration::from_secs(8), scan).await,
        None,
    );

    let in_pg: i64 =
        sqlx::query_scalar("SELECT count(DISTINCT ticket_id) FROM bookings_demo.checkins WHERE event_id = $1")
            .bind(&event)
            .fetch_one(state.pg())
            .await?;
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM bookings_demo.checkins WHERE event_id = $1")
        .bind(&event)
        .fetch_one(state.pg())
        .await?;
    let (admitted, repeated) = (admitted.load(Ordering::Relaxed), repeated.load(Ordering::Relaxed));
    let sound = admitted == codes.len() as u64 && rows == in_pg && in_pg == codes.len() as i64;
    let mut table = String::from("| measure | value |\n|---|---|\n");
    let _ = writeln!(table, "| tickets issued | {} |", codes.len());
    let _ = writeln!(table, "| scans answered \"admitted\" / \"already admitted\" | {admitted} / {repeated} |");
    let _ = writeln!(table, "| check-in rows in PostgreSQL (distinct tickets) | {rows} ({in_pg}) |");
    let _ = writeln!(table, "| every ticket admitted exactly once | {} |", if sound { "yes" } else { "**no**" });
    println!("{table}");
    report.notes.push(format!(
        "Door check-in (bench/src/checkin.rs): {BUYERS} fans book and pay {SEATS_EACH} seats each and fetch their \
         tickets; then 500 connections scan them round-robin across 40 gates for 8 s, so after the first pass every \
         scan is a repeat (409 ALREADY_ADMITTED, the same single statement).\n\n{table}"
    ));
    Ok(sound)
}
