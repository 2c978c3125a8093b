//! The on-sale rush: 20,000 distinct fans join the waiting room of one
//! 1,000-seat event within 10 s, poll their place as told (Retry-After),
//! and book and pay 1–4 seats each when admitted. Then PostgreSQL, Redis
//! and the Mongo read model are checked: exactly the event's seats sold,
//! none twice.

use std::{
    collections::HashMap,
    fmt::Write as _,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use serde_json::{json, Value};
use shared::{
    domain::{
        event::EventId,
        user::{Role, Tier},
    },
    repo::redis_seats::board_key,
    State,
};

use super::{capacity, create_event, fixed_rate, Report, Stats};

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// What one fan saw.
#[derive(Default, Clone)]
struct Fan {
    place: Option<u64>,
    joined_after_opening: bool,
    admitted: bool,
    told_sold_out: Option<Instant>,
    seats_bought: u64,
}

#[derive(Default)]
struct Tally {
    join_micros: Mutex<Vec<u64>>,
    poll_micros: Mutex<Vec<u64>>,
    book_micros: Mutex<Vec<u64>>,
    server_errors: AtomicU64,
    other_errors: AtomicU64,
    seats_taken: AtomicU64,
    sold_out_at: Mutex<Option<Instant>>,
}

impl Tally {
    fn status(&self, status: u16) {
        if status >= 500 {
            self.server_errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}

async fn put_on_sale(http: &reqwest::Client, base: &str, admin: &str, event: &str, sale: Value) -> anyhow::Result<()> {
    let response = http.put(format!("{base}/events/{event}/onsale")).bearer_auth(admin).json(&sale).send().await?;
    anyhow::ensure!(response.status().is_success(), "setting the on-sale: {}", response.text().await?);
    Ok(())
}

async fn send(request: reqwest::RequestBuilder) -> Option<(u16, Value, Option<u64>)> {
    let response = request.send().await.ok()?;
    let status = response.status().as_u16();
    let retry = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    Some((status, response.json().await.unwrap_or(Value::Null), retry))
}

/// What every fan of one rush shares.
struct Sale {
    http: reqwest::Client,
    /// Seats on sale: once bookings have taken this many, it is sold out.
    seats: u64,
    base: String,
    event: String,
    tally: Tally,
    deadline: Instant,
}

/// One fan, from joining to paying (or to being told the sale is over).
async fn fan(sale: Arc<Sale>, token: String, wants: u64, scheduled: tokio::time::Instant) -> Fan {
    let Sale { http, base, event, tally, deadline, seats } = &*sale;
    let deadline = *deadline;
    tokio::time::sleep_until(scheduled).await;
    let mut me = Fan::default();
    let Some((status, body, retry)) = send(http.post(format!("{base}/events/{event}/queue")).bearer_auth(&token)).await
    else {
        tally.other_errors.fetch_add(1, Ordering::Relaxed);
        return me;
    };
    tally.status(status);
    if status != 200 {
        tally.other_errors.fetch_add(1, Ordering::Relaxed);
        return me;
    }
    tally.join_micros.lock().unwrap().push(scheduled.elapsed().as_micros() as u64);
    me.joined_after_opening = body["data"]["state"] != "preQueue";
    let place_token = body["data"]["token"].as_str().unwrap_or_default().to_owned();
    let mut wait = Duration::from_secs(retry.unwrap_or(1));
    let mut pass = None;
    while Instant::now() < deadline {
        tokio::time::sleep(wait).await;
        let sent = Instant::now();
        let Some((status, body, retry)) =
            send(http.get(format!("{base}/queue/{place_token}")).bearer_auth(&token)).await
        else {
            tally.other_errors.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        tally.status(status);
        tally.poll_micros.lock().unwrap().push(sent.elapsed().as_micros() as u64);
        me.place = body["data"]["position"].as_u64().map(|p| p - 1).or(me.place);
        wait = Duration::from_secs(retry.unwrap_or(1));
        match body["data"]["state"].as_str() {
            Some("admitted") => {
                pass = body["data"]["admissionPass"].as_str().map(str::to_owned);
                break;
            }
            Some("soldOut") => {
                me.told_sold_out = Some(Instant::now());
                return me;
            }
            Some("lapsed") | None => return me,
            _ => {}
        }
    }
    let Some(pass) = pass else { return me };
    me.admitted = true;
    // Up to five tries: a seat seen free on the map may be taken meanwhile.
    for _ in 0..5 {
        let Some((_, map, _)) = send(http.get(format!("{base}/events/{event}/seats?status=available"))).await else {
            continue;
        };
        let free: Vec<String> = map["data"]["seats"]
            .as_array()
            .map(|seats| seats.iter().filter_map(|s| s["id"].as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        if free.is_empty() {
            return me;
        }
        // Spread fans over the map so they rarely pick the same seats.
        let start = (uuid::Uuid::new_v4().as_u64_pair().0 as usize) % free.len();
        let picked: Vec<&String> =
            free.iter().cycle().skip(start).take(wants.min(free.len() as u64) as usize).collect();
        let body = json!({ "eventId": event, "seatIds": picked, "admissionPass": pass });
        let sent = Instant::now();
        let Some((status, booking, _)) =
            send(http.post(format!("{base}/bookings")).bearer_auth(&token).json(&body)).await
        else {
            continue;
        };
        tally.status(status);
        match status {
            201 => {
                tally.book_micros.lock().unwrap().push(sent.elapsed().as_micros() as u64);
                let taken = tally.seats_taken.fetch_add(picked.len() as u64, Ordering::Relaxed) + picked.len() as u64;
                if taken >= *seats {
                    tally.sold_out_at.lock().unwrap().get_or_insert_with(Instant::now);
                }
                let id = booking["data"]["id"].as_str().unwrap_or_default();
                let card = json!({ "paymentMethod": { "type": "card", "cardNumber": "4242 4242 4242 4242" } });
                if let Some((status, _, _)) =
                    send(http.post(format!("{base}/bookings/{id}/pay")).bearer_auth(&token).json(&card)).await
                {
                    tally.status(status);
                    if status == 200 {
                        me.seats_bought = picked.len() as u64;
                    }
                }
                return me;
            }
            409 => continue,
            _ => {
                tally.other_errors.fetch_add(1, Ordering::Relaxed);
                return me;
            }
        }
    }
    me
}

/// Each call a different fan joining the line at `url`.
fn joiner(
    http: &reqwest::Client,
    state: &Arc<State>,
    url: &Arc<String>,
) -> impl Fn(u64) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>> {
    let (http, state, url) = (http.clone(), state.clone(), url.clone());
    move |_| {
        let (http, state, url) = (http.clone(), state.clone(), url.clone());
        Box::pin(async move {
            let Ok(token) = state.jwt.issue(uuid::Uuid::new_v4(), "fan@bench", Role::User, Tier::Regular) else {
                return false;
            };
            matches!(http.post(url.as_str()).bearer_auth(token).send().await, Ok(r) if r.status() == 200)
        })
    }
}

/// Spearman's rank correlation of two equally long sequences of distinct ranks.
fn spearman(pairs: &[(u64, u64)]) -> f64 {
    let rank = |values: Vec<u64>| {
        let mut order: Vec<usize> = (0..values.len()).collect();
        order.sort_by_key(|&i| values[i]);
        let mut ranks = vec![0f64; values.len()];
        for (r, i) in order.into_iter().enumerate() {
            ranks[i] = r as f64;
        }
        ranks
    };
    let n = pairs.len() as f64;
    if n < 2.0 {
        return f64::NAN;
    }
    let a = rank(pairs.iter().map(|p| p.0).collect());
    let b = rank(pairs.iter().map(|p| p.1).collect());
    let d2: f64 = a.iter().zip(&b).map(|(x, y)| (x - y).powi(2)).sum();
    1.0 - 6.0 * d2 / (n * (n * n - 1.0))
}

/// Runs the rush; false if a seat was sold twice or the stores disagree.
pub async fn rush(report: &mut Report, base: &str, state: &Arc<State>, admin: &str) -> anyhow::Result<bool> {
    let fans = setting("RUSH_FANS", 20_000);
    let arrival = setting("RUSH_JOINS_PER_SECOND", 2_000);
    let seats = setting("RUSH_SEATS", 1000);
    let per_minute = setting("RUSH_ADMISSION_PER_MINUTE", 400);
    let http = super::client(1000);

    // Join capacity first, on an event of its own: 500 connections, each
    // request a different fan.
    let cap_event = create_event(&http, base, admin, 100).await?;
    let opened = (chrono::Utc::now() - chrono::Duration::seconds(1)).to_rfc3339();
    put_on_sale(
        &http,
        base,
        admin,
        &cap_event,
        json!({ "opensAt": opened, "queueEnabled": true, "admissionPerMinute": 60 }),
    )
    .await?;
    let url = Arc::new(format!("{base}/events/{cap_event}/queue"));
    println!("on-sale rush: joins at a fixed rate (nobody polling yet), then at 500 connections");
    let quiet = format!("rush: POST /events/{{id}}/queue @ {arrival}/s, no crowd polling");
    report.add(fixed_rate(&quiet, arrival, Duration::from_secs(5), joiner(&http, state, &url)).await, None);
    let busy = "rush: POST /events/{id}/queue, 500 connections";
    report.add(capacity(busy, 500, Duration::from_secs(8), joiner(&http, state, &url)).await, None);

    // The rush: opens 2 s after the first fan arrives, so the first ~4,000
    // are drawn at random and the rest queue in arrival order.
    let event = Arc::new(create_event(&http, base, admin, seats).await?);
    let start = tokio::time::Instant::now() + Duration::from_secs(1);
    let opens_at = chrono::Utc::now() + chrono::Duration::seconds(3);
    put_on_sale(
        &http,
        base,
        admin,
        &event,
        json!({ "opensAt": opens_at.to_rfc3339(), "queueEnabled": true, "admissionPerMinute": per_minute,
                "passTtlSeconds": 60, "maxSeatsPerUser": 4 }),
    )
    .await?;
    println!("on-sale rush: {fans} fans at {arrival}/s on {seats} seats, admitting {per_minute}/min");
    let sale = Arc::new(Sale {
        http: http.clone(),
        seats,
        base: base.to_owned(),
        event: event.to_string(),
        tally: Tally::default(),
        deadline: Instant::now() + Duration::from_secs(setting("RUSH_MAX_SECONDS", 240)),
    });
    let mut tasks = Vec::with_capacity(fans as usize);
    for i in 0..fans {
        let token = state.jwt.issue(uuid::Uuid::new_v4(), "fan@bench", Role::User, Tier::Regular)?;
        let scheduled = start + Duration::from_nanos(i * 1_000_000_000 / arrival);
        tasks.push(tokio::spawn(fan(sale.clone(), token, 1 + i % 4, scheduled)));
    }
    let tally = &sale.tally;
    // The line as everyone sees it, twice a second until the sell-out: the
    // admission rate achieved.
    let samples: Arc<Mutex<Vec<(Instant, u64)>>> = Arc::default();
    let monitor = {
        let (http, url, samples) = (http.clone(), format!("{base}/events/{event}/queue"), samples.clone());
        tokio::spawn(async move {
            loop {
                if let Some((200, line, _)) = send(http.get(&url)).await {
                    if line["data"]["soldOut"] == true {
                        return;
                    }
                    samples
                        .lock()
                        .unwrap()
                        .push((Instant::now(), line["data"]["admittedThrough"].as_u64().unwrap_or(0)));
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
    };
    let sale_started = Instant::now();
    let outcomes: Vec<Fan> =
        futures::future::join_all(tasks).await.into_iter().map(Result::unwrap_or_default).collect();
    let sale_seconds = sale_started.elapsed().as_secs_f64();
    monitor.abort();

    let take = |m: &Mutex<Vec<u64>>| std::mem::take(&mut *m.lock().unwrap());
    let errors = tally.other_errors.load(Ordering::Relaxed);
    report.add(
        Stats::from(
            &format!("rush: POST /events/{{id}}/queue @ {arrival}/s ({fans} fans)"),
            take(&tally.join_micros),
            errors,
            fans as f64 / arrival as f64,
        ),
        None,
    );
    report.add(
        Stats::from("rush: GET /queue/{token}, every fan polling as told", take(&tally.poll_micros), 0, sale_seconds),
        None,
    );
    report.add(
        Stats::from("rush: POST /bookings with a pass, during the rush", take(&tally.book_micros), 0, sale_seconds),
        None,
    );

    // What the stores say.
    let sold: Vec<(String, i64)> = sqlx::query_as(
        "SELECT s.seat_label, count(*) FROM bookings_demo.booking_seats s
           JOIN bookings_demo.bookings b ON b.id = s.booking_id
          WHERE s.event_id = $1 AND b.status = 'CONFIRMED' GROUP BY s.seat_label",
    )
    .bind(event.as_str())
    .fetch_all(state.pg())
    .await?;
    let twice = sold.iter().filter(|(_, n)| *n > 1).count();
    let mut redis = state.redis().await?;
    let board: HashMap<String, String> =
        redis::cmd("HGETALL").arg(board_key(&EventId::parse(&event)?)).query_async(&mut redis).await?;
    let redis_booked = board.values().filter(|v| v.starts_with("B|")).count();
    let mut mongo_booked = 0;
    for _ in 0..120 {
        mongo_booked = state
            .events()
            .seats()
            .count_documents(mongodb::bson::doc! { "eventId": event.as_str(), "status": "booked" })
            .await? as usize;
        if mongo_booked == sold.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let agree = sold.len() == redis_booked && sold.len() == mongo_booked;

    // Fairness: the admitted fans are exactly the first places of the line,
    // and after the opening places follow arrival.
    let admitted: Vec<&Fan> = outcomes.iter().filter(|f| f.admitted).collect();
    let frontier = admitted.iter().filter_map(|f| f.place).max().map_or(0, |p| p + 1);
    let in_prefix = outcomes.iter().filter(|f| f.place.is_some_and(|p| p < frontier)).count();
    let fair = if in_prefix == 0 { f64::NAN } else { admitted.len() as f64 * 100.0 / in_prefix as f64 };
    let fifo: Vec<(u64, u64)> = outcomes
        .iter()
        .enumerate()
        .filter(|(_, f)| f.joined_after_opening)
        .filter_map(|(i, f)| f.place.map(|p| (i as u64, p)))
        .collect();
    let rho = spearman(&fifo);
    let sold_out_at = *tally.sold_out_at.lock().unwrap();
    let told: Vec<Instant> = outcomes.iter().filter_map(|f| f.told_sold_out).collect();
    let told_within = sold_out_at
        .and_then(|at| told.iter().max().map(|last| last.saturating_duration_since(at).as_secs_f64()))
        .map_or("–".to_owned(), |s| format!("{s:.1} s"));
    let achieved = achieved_rate(&samples.lock().unwrap());
    let server_errors = tally.server_errors.load(Ordering::Relaxed);

    let mut table = String::from("| measure | value |\n|---|---|\n");
    let _ = writeln!(
        table,
        "| fans (distinct accounts), arrival | {fans} in {:.0} s ({arrival}/s) |",
        fans as f64 / arrival as f64
    );
    let _ = writeln!(table, "| seats sold (CONFIRMED in PostgreSQL) / on sale | {} / {seats} |", sold.len());
    let _ = writeln!(table, "| seats sold twice | {twice} |");
    let _ = writeln!(
        table,
        "| PostgreSQL, Redis, Mongo agree | {} (Redis {redis_booked}, Mongo {mongo_booked}) |",
        if agree { "yes" } else { "**no**" }
    );
    let _ = writeln!(table, "| 5xx answers | {server_errors} |");
    let _ = writeln!(table, "| other failed requests | {errors} |");
    let _ = writeln!(
        table,
        "| fans admitted / bought | {} / {} |",
        admitted.len(),
        outcomes.iter().filter(|f| f.seats_bought > 0).count()
    );
    let _ = writeln!(
        table,
        "| admission per minute, configured / achieved before the sell-out | {per_minute} / {achieved} |"
    );
    let _ = writeln!(table, "| admitted fans within the line's first places | {fair:.1} % |");
    let _ = writeln!(table, "| arrival → place rank correlation after the opening | {rho:.4} ({} fans) |", fifo.len());
    let _ =
        writeln!(table, "| fans told \"sold out\" / time until the last was told | {} / {told_within} |", told.len());
    let _ = writeln!(table, "| sale length (first join to last fan done) | {sale_seconds:.0} s |");
    println!("{table}");
    report.notes.push(format!(
        "On-sale rush (bench/src/rush.rs): {fans} fans join one {seats}-seat event's waiting room at {arrival}/s, the \
         sale opening 2 s after the first arrives; each fan polls as Retry-After says and, once admitted, reads the \
         seat map, books 1–4 seats with its pass and pays.\n\n{table}"
    ));
    Ok(twice == 0 && agree && sold.len() as u64 == seats)
}

/// Admissions per minute from the first sample that saw anyone admitted to
/// the last before the sell-out (lapsed passes hand slots on, so it may
/// exceed the configured rate a little).
fn achieved_rate(samples: &[(Instant, u64)]) -> String {
    let Some(first) = samples.iter().position(|(_, n)| *n > 0) else {
        return "none admitted".to_owned();
    };
    let ((t0, n0), (t1, n1)) = (samples[first], samples[samples.len() - 1]);
    let minutes = t1.saturating_duration_since(t0).as_secs_f64() / 60.0;
    if minutes <= 0.0 {
        return "too short to tell".to_owned();
    }
    format!("{:.0}", (n1 - n0) as f64 / minutes)
}
