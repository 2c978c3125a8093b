//! `make bench`: the API through the local gateway, beside floors measured
//! in the same run.
//!
//! Latency is measured at a fixed arrival rate (open loop: requests are sent
//! on schedule whether or not earlier ones have answered, and latency counts
//! from the scheduled time, so a stall is not hidden); capacity at many
//! connections (closed loop). With a fixed number of connections, latency is
//! only connections ÷ throughput, so the two are reported separately.
//!
//! Usage: `bench run <gateway-url>` (the Makefile starts a release gateway),
//! `bench floor-server <port> <file>` (the bare hyper server, in its own
//! process like the gateway).

mod chart;
mod checkin;
mod cold_start;
mod inbox;
mod rush;
mod storms;

use std::{
    convert::Infallible,
    fmt::Write as _,
    future::Future,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use bytes::Bytes;
use http_body_util::Full;
use shared::{
    domain::{
        event::EventId,
        user::{Role, Tier},
    },
    repo::SeatHolds,
    seed, State,
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("floor-server") => floor_server(args[1].parse()?, &args[2]).await,
        Some("run") => run(args.get(1).context("gateway url")?).await,
        _ => anyhow::bail!("usage: bench run <gateway-url> | bench floor-server <port> <file>"),
    }
}

/// Percentiles of one measurement, in milliseconds.
#[derive(Clone, Debug)]
struct Stats {
    name: String,
    count: usize,
    errors: u64,
    seconds: f64,
    p50: f64,
    p95: f64,
    p99: f64,
    max: f64,
    /// (percentile, ms) from 0 to 100, for the chart.
    curve: Vec<(f64, f64)>,
}

impl Stats {
    fn from(name: &str, mut micros: Vec<u64>, errors: u64, seconds: f64) -> Stats {
        micros.sort_unstable();
        let pick = |q: f64| {
            if micros.is_empty() {
                return f64::NAN;
            }
            let idx = ((micros.len() as f64 * q).ceil() as usize).clamp(1, micros.len()) - 1;
            micros[idx] as f64 / 1000.0
        };
        Stats {
            name: name.to_owned(),
            count: micros.len(),
            errors,
            seconds,
            p50: pick(0.50),
            p95: pick(0.95),
            p99: pick(0.99),
            max: micros.last().map_or(f64::NAN, |m| *m as f64 / 1000.0),
            curve: if micros.is_empty() {
                Vec::new()
            } else {
                (0..=200).map(|half| f64::from(half) / 2.0).map(|p| (p, pick((p / 100.0).max(0.0001)))).collect()
            },
        }
    }

    fn rate(&self) -> f64 {
        self.count as f64 / self.seconds
    }
}

/// Sends `rate` requests a second for `duration`, each at its scheduled
/// time; latency runs from that time to the response.
async fn fixed_rate<F, Fut>(name: &str, rate: u64, duration: Duration, request: F) -> Stats
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send + 'static,
{
    let request = Arc::new(request);
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let errors = Arc::new(AtomicU64::new(0));
    let total = rate * duration.as_secs();
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        let scheduled = start + Duration::from_nanos(i * 1_000_000_000 / rate);
        tokio::time::sleep_until(scheduled).await;
        let (request, latencies, errors) = (request.clone(), latencies.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let ok = request(i).await;
            let micros = scheduled.elapsed().as_micros() as u64;
            if ok {
                latencies.lock().unwrap().push(micros);
            } else {
                errors.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    futures::future::join_all(tasks).await;
    let seconds = start.elapsed().as_secs_f64();
    let micros = std::mem::take(&mut *latencies.lock().unwrap());
    Stats::from(name, micros, errors.load(Ordering::Relaxed), seconds)
}

/// `connections` loops, each sending the next request as soon as the last
/// one answers, for `duration`.
async fn capacity<F, Fut>(name: &str, connections: usize, duration: Duration, request: F) -> Stats
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send + 'static,
{
    let request = Arc::new(request);
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let errors = Arc::new(AtomicU64::new(0));
    let counter = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + duration;
    let workers = (0..connections).map(|_| {
        let (request, latencies, errors, counter) =
            (request.clone(), latencies.clone(), errors.clone(), counter.clone());
        tokio::spawn(async move {
            let mut mine = Vec::new();
            while Instant::now() < deadline {
                let sent = Instant::now();
                let ok = request(counter.fetch_add(1, Ordering::Relaxed)).await;
                if ok {
                    mine.push(sent.elapsed().as_micros() as u64);
                } else {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            latencies.lock().unwrap().extend(mine);
        })
    });
    futures::future::join_all(workers).await;
    let seconds = start.elapsed().as_secs_f64();
    let micros = std::mem::take(&mut *latencies.lock().unwrap());
    Stats::from(name, micros, errors.load(Ordering::Relaxed), seconds)
}

/// One call after another: the floor of a datastore operation.
async fn sequential<F, Fut>(name: &str, iterations: u64, call: F) -> anyhow::Result<Stats>
where
    F: Fn(u64) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let mut micros = Vec::with_capacity(iterations as usize);
    let start = Instant::now();
    for i in 0..iterations {
        let t = Instant::now();
        call(i).await?;
        micros.push(t.elapsed().as_micros() as u64);
    }
    Ok(Stats::from(name, micros, 0, start.elapsed().as_secs_f64()))
}

async fn floor_server(port: u16, file: &str) -> anyhow::Result<()> {
    let body = Bytes::from(std::fs::read(file)?);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let body = body.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |_req| {
                let body = body.clone();
                async move {
                    let mut response = hyper::Response::new(Full::new(body));
                    response.headers_mut().insert("content-type", "application/json".parse().unwrap());
                    Ok::<_, Infallible>(response)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

fn client(connections: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("http client")
}

fn get_ok(
    client: &reqwest::Client,
    url: Arc<String>,
) -> impl Fn(u64) -> std::pin::Pin<Box<dyn Future<Output = bool> + Send>> {
    let client = client.clone();
    move |_| {
        let (client, url) = (client.clone(), url.clone());
        Box::pin(async move {
            match client.get(url.as_str()).send().await {
                Ok(response) => response.status().is_success() && response.bytes().await.is_ok(),
                Err(_) => false,
            }
        })
    }
}

struct Report {
    rows: Vec<(Stats, Option<f64>)>,
    notes: Vec<String>,
}

impl Report {
    fn add(&mut self, stats: Stats, floor_p50: Option<f64>) {
        println!(
            "  {:<58} n={:<6} err={:<4} {:>8.0}/s  p50 {:>7.2}  p95 {:>7.2}  p99 {:>7.2} ms",
            stats.name,
            stats.count,
            stats.errors,
            stats.rate(),
            stats.p50,
            stats.p95,
            stats.p99
        );
        self.rows.push((stats, floor_p50));
    }

    fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "| measurement | requests | errors | rate (/s) | p50 ms | p95 ms | p99 ms | max ms | p50 ÷ floor |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        for (s, floor) in &self.rows {
            let ratio = floor.map_or("–".to_owned(), |f| format!("{:.1}×", s.p50 / f));
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {} |",
                s.name,
                s.count,
                s.errors,
                s.rate(),
                s.p50,
                s.p95,
                s.p99,
                s.max,
                ratio
            );
        }
        for note in &self.notes {
            let _ = writeln!(out, "\n{note}");
        }
        out
    }
}

/// The seat map through the gateway beside a bare hyper server returning
/// the same bytes: at a fixed rate, then at 500 connections.
async fn seat_map(
    report: &mut Report,
    http: &reqwest::Client,
    seats_url: &Arc<String>,
    phase: Duration,
) -> anyhow::Result<()> {
    let body = client(1).get(seats_url.as_str()).send().await?.bytes().await?;
    let body_file = std::env::temp_dir().join("bench-seats.json");
    std::fs::write(&body_file, &body)?;
    let floor_port = 3901;
    let mut floor = tokio::process::Command::new(std::env::current_exe()?)
        .args(["floor-server", &floor_port.to_string(), body_file.to_str().unwrap()])
        .kill_on_drop(true)
        .spawn()?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let floor_url = Arc::new(format!("http://127.0.0.1:{floor_port}/"));
    println!("GET /events/{}/seats ({} bytes)", seed::TAYLOR_SWIFT, body.len());

    let floor_rate =
        fixed_rate("floor: bare hyper, same bytes @ 2000/s", 2000, phase, get_ok(http, floor_url.clone())).await;
    let floor_p50 = floor_rate.p50;
    report.add(floor_rate, None);
    let seats_rate = fixed_rate("GET seats via gateway @ 2000/s", 2000, phase, get_ok(http, seats_url.clone())).await;
    report.add(seats_rate, Some(floor_p50));
    let floor_cap = capacity("floor: bare hyper, 500 connections", 500, phase, get_ok(http, floor_url.clone())).await;
    let floor_cap_p50 = floor_cap.p50;
    report.add(floor_cap, None);
    report.add(
        capacity("GET seats via gateway, 500 connections", 500, phase, get_ok(http, seats_url.clone())).await,
        Some(floor_cap_p50),
    );
    floor.kill().await.ok();

    Ok(())
}

async fn run(base: &str) -> anyhow::Result<()> {
    let state = Arc::new(State::from_env().await?);
    let seconds = |name: &str, default: u64| {
        Duration::from_secs(std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default))
    };
    let phase = seconds("BENCH_SECONDS", 10);
    let mut report = Report { rows: Vec::new(), notes: Vec::new() };

    // --- the seat map ---------------------------------------------------
    let seats_url = Arc::new(format!("{base}/events/{}/seats", seed::TAYLOR_SWIFT));
    let http = client(600);
    // BENCH_ONLY=bookings: the floors and the booking pipeline alone, for
    // iterating on it (about a minute instead of fifteen).
    let only_bookings = std::env::var("BENCH_ONLY").is_ok_and(|only| only == "bookings");
    // BENCH_ONLY=rush: the floors and the on-sale rush alone; =gates: the
    // floors and door check-in.
    let only_rush = std::env::var("BENCH_ONLY").is_ok_and(|only| only == "rush");
    let only_gates = std::env::var("BENCH_ONLY").is_ok_and(|only| only == "gates");
    let only_mail = std::env::var("BENCH_ONLY").is_ok_and(|only| only == "mail");
    if !only_bookings && !only_rush && !only_gates && !only_mail {
        seat_map(&mut report, &http, &seats_url, phase).await?;
    }

    // --- datastore floors -------------------------------------------------
    println!("datastore floors (sequential)");
    let board = state.seat_board().await?;
    let bench_event = EventId::parse("bench-floor")?;
    let evalsha = sequential("floor: Redis EVALSHA (hold script, 1 seat)", 2000, |i| {
        let board = board.clone();
        let event = bench_event.clone();
        async move {
            let expires = chrono::Utc::now().timestamp_millis() + 60_000;
            board.hold(&event, &format!("b{i}"), &[format!("S{i}")], expires).await?;
            Ok(())
        }
    })
    .await?;
    let redis_p50 = evalsha.p50;
    report.add(evalsha, None);
    let mut redis = state.redis().await?;
    let _: () =
        redis::cmd("DEL").arg(shared::repo::redis_seats::board_key(&bench_event)).query_async(&mut redis).await?;

    sqlx::query("CREATE TABLE IF NOT EXISTS bench_inserts (id uuid PRIMARY KEY, payload jsonb NOT NULL, at timestamptz DEFAULT now())")
        .execute(state.pg())
        .await?;
    let pg_insert = sequential("floor: PostgreSQL INSERT (autocommit)", 2000, |_| {
        let pool = state.pg().clone();
        async move {
            sqlx::query("INSERT INTO bench_inserts (id, payload) VALUES ($1, '{}')")
                .bind(uuid::Uuid::now_v7())
                .execute(&pool)
                .await?;
            Ok(())
        }
    })
    .await?;
    let pg_p50 = pg_insert.p50;
    report.add(pg_insert, None);
    sqlx::query("DROP TABLE bench_inserts").execute(state.pg()).await?;

    let seats = state.events();
    let mongo_find = sequential("floor: Mongo find_one seat by _id", 1000, |i| {
        let seats = seats.seats().clone();
        async move {
            let id = format!("{}_A{}", seed::TAYLOR_SWIFT, i % 10 + 1);
            seats.find_one(mongodb::bson::doc! { "_id": id }).await?;
            Ok(())
        }
    })
    .await?;
    report.add(mongo_find, None);

    // The request path awaits the broker's acknowledgement of its outbox
    // message; event.created has no consumer, so these messages go nowhere.
    let publisher = state.publisher();
    let topic = shared::kafka::EVENT_CREATED;
    let kafka_produce = sequential("floor: Kafka produce, acks=all", 1000, |i| {
        let publisher = &publisher;
        async move {
            use shared::kafka::Publisher;
            publisher.publish(topic, "bench-floor", format!("{{\"floor\":{i}}}").as_bytes()).await?;
            Ok(())
        }
    })
    .await?;
    let kafka_p50 = kafka_produce.p50;
    report.add(kafka_produce, None);

    // Admin calls check the account in the store: a real one, not a bare token.
    let admin = shared::seed::privileged_token(&state, uuid::Uuid::new_v4(), Role::Admin).await?;
    if only_rush {
        let sound = rush::rush(&mut report, base, &state, &admin).await?;
        return finish(&report, sound);
    }
    if only_gates {
        let sound = checkin::gates(&mut report, base, &state, &admin).await?;
        return finish(&report, sound);
    }
    if only_mail {
        let sound = inbox::inbox(&mut report, base, &state, &admin).await?;
        return finish(&report, sound);
    }

    // --- bookings ----------------------------------------------------------
    let booking_rate = std::env::var("BENCH_BOOKING_RATE").ok().and_then(|v| v.parse().ok()).unwrap_or(500u64);
    let needed = booking_rate * phase.as_secs() + 500;
    // Every event up front: writing 30,000 seat documents while the
    // pipeline drains the rate run would be measured as pipeline lag.
    let rate_event = create_event(&http, base, &admin, needed).await?;
    let mut cap_events = Vec::new();
    for _ in 0..3 {
        cap_events.push(create_event(&http, base, &admin, 10_000).await?);
    }
    println!("POST /bookings (distinct seats, one user per booking)");
    let booking_stats = fixed_rate(
        &format!("POST /bookings via gateway @ {booking_rate}/s"),
        booking_rate,
        phase,
        book(http.clone(), base, state.clone(), vec![rate_event.clone()]),
    )
    .await;
    report.add(booking_stats, Some(redis_p50 + pg_p50 + kafka_p50));

    // --- booking → RESERVED through Kafka --------------------------------
    // Measured before the capacity run, so its backlog is not this run's.
    let (reserved, pending) = drain(state.pg(), std::slice::from_ref(&rate_event), Duration::from_secs(10)).await?;
    let lags: Vec<f64> = sqlx::query_scalar(
        "SELECT EXTRACT(EPOCH FROM (a.at - b.created_at))::float8 * 1000 FROM bookings_demo.bookings b
         JOIN bookings_demo.audit_log a ON a.booking_id = b.id AND a.action = 'seat.reserved'
         WHERE b.event_id = $1",
    )
    .bind(&rate_event)
    .fetch_all(state.pg())
    .await?;
    let lag = Stats::from(
        &format!("booking → RESERVED via Kafka (of the {booking_rate}/s run)"),
        lags.iter().map(|ms| (ms * 1000.0) as u64).collect(),
        pending as u64,
        phase.as_secs_f64(),
    );
    report.notes.push(format!(
        "Booking → RESERVED: {reserved} bookings reached RESERVED, {pending} still PENDING 10 s after the run (counted \
         as errors); lag measured from the booking row's creation to the seat.reserved audit row (both PostgreSQL clocks)."
    ));
    report.add(lag, None);

    report.add(
        capacity(
            "POST /bookings via gateway, 500 connections",
            500,
            phase.min(Duration::from_secs(6)),
            book(http.clone(), base, state.clone(), cap_events.clone()),
        )
        .await,
        Some(redis_p50 + pg_p50 + kafka_p50),
    );
    report.notes.push(
        "Floors: the bare hyper server returns the same seat-map bytes from its own process; datastore floors are \
         single sequential calls from this process. POST /bookings is compared with one EVALSHA, one INSERT and one acknowledged Kafka produce."
            .to_owned(),
    );

    // --- the same requests under cargo lambda watch ----------------------
    // Each function in its own process behind cargo-lambda's Runtime API
    // emulator, as `make watch` runs them. Low rates: the emulator stops
    // answering past ~110 concurrent connections. The gateway row at the
    // same rate is the reference, so the ratio is the emulator's own cost.
    if let Some(watch) = std::env::var("BENCH_WATCH_URL").ok().filter(|_| !only_bookings) {
        println!("the same requests through cargo lambda watch ({watch})");
        let watch_phase = phase.min(Duration::from_secs(5));
        let (seat_rate, booking_rate) = (100, 50);
        let via_gateway = fixed_rate(
            &format!("GET seats via gateway @ {seat_rate}/s"),
            seat_rate,
            watch_phase,
            get_ok(&http, seats_url.clone()),
        )
        .await;
        let gateway_p50 = via_gateway.p50;
        report.add(via_gateway, None);
        let watch_seats = Arc::new(format!("{watch}/events/{}/seats", seed::TAYLOR_SWIFT));
        let under_watch = fixed_rate(
            &format!("GET seats via cargo lambda watch @ {seat_rate}/s"),
            seat_rate,
            watch_phase,
            get_ok(&http, watch_seats),
        )
        .await;
        report.add(under_watch, Some(gateway_p50));
        let seats_needed = booking_rate * watch_phase.as_secs() + 100;
        let (gateway_event, watch_event) = (
            create_event(&http, base, &admin, seats_needed).await?,
            create_event(&http, base, &admin, seats_needed).await?,
        );
        let via_gateway = fixed_rate(
            &format!("POST /bookings via gateway @ {booking_rate}/s"),
            booking_rate,
            watch_phase,
            book(http.clone(), base, state.clone(), vec![gateway_event]),
        )
        .await;
        let gateway_p50 = via_gateway.p50;
        report.add(via_gateway, None);
        let under_watch = fixed_rate(
            &format!("POST /bookings via cargo lambda watch @ {booking_rate}/s"),
            booking_rate,
            watch_phase,
            book(http.clone(), &watch, state.clone(), vec![watch_event]),
        )
        .await;
        report.add(under_watch, Some(gateway_p50));
        report.notes.push(
            "cargo lambda watch rows: the same requests through `cargo lambda watch --release` (each function its own \
             process behind cargo-lambda's Runtime API emulator, as `make watch` runs them), beside the gateway at the \
             same rate; their ratio column is watch ÷ gateway, the emulator's own cost."
                .to_owned(),
        );
    }

    // --- oversell storms --------------------------------------------------
    // Let the booking runs' Kafka backlog drain first: the storms check that
    // the read model catches up, and should not wait behind 5,000 others.
    drain(state.pg(), &[vec![rate_event.clone()], cap_events.clone()].concat(), Duration::from_secs(90)).await?;
    let storms = std::env::var("BENCH_STORMS").ok().and_then(|v| v.parse().ok()).unwrap_or(10usize);
    let buyers = std::env::var("BENCH_STORM_BUYERS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000usize);
    println!("oversell storms: {storms} × {buyers} buyers on 10 seats");
    let storm_http = client(buyers);
    let mut storm_micros = Vec::new();
    let mut storm_table = String::from(
        "| storm | buyers | 201 | 409 | other | seats sold twice | PostgreSQL, Redis, Mongo agree |\n|---:|---:|---:|---:|---:|---:|---|\n",
    );
    let (mut storm_errors, mut oversold) = (0u64, 0usize);
    let storms_started = Instant::now();
    for n in 1..=storms {
        let outcome = storms::storm(&storm_http, base, &state, &admin, buyers).await?;
        let _ = writeln!(
            storm_table,
            "| {n} | {buyers} | {} | {} | {} | {} | {} |",
            outcome.created,
            outcome.conflicts,
            outcome.errors,
            outcome.oversold,
            if outcome.stores_agree { "yes" } else { "**no**" }
        );
        storm_errors += outcome.errors as u64;
        oversold += outcome.oversold + usize::from(!outcome.stores_agree);
        storm_micros.extend(outcome.micros);
    }
    report.add(
        Stats::from(
            &format!("oversell storms: {storms} × {buyers} buyers on 10 seats"),
            storm_micros,
            storm_errors,
            storms_started.elapsed().as_secs_f64(),
        ),
        None,
    );
    report.notes.push(format!("Oversell storms (every buyer a separate user, all at once):\n\n{storm_table}"));

    // --- the on-sale rush and the gates -----------------------------------
    let rush_sound = only_bookings || rush::rush(&mut report, base, &state, &admin).await?;
    let gates_sound = only_bookings || checkin::gates(&mut report, base, &state, &admin).await?;
    let mail_sound = only_bookings || inbox::inbox(&mut report, base, &state, &admin).await?;

    // --- cold starts ------------------------------------------------------
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let starts = cold_start::measure(&root.join("target/lambda"), &root.join("tests/fixtures")).await;
    if starts.is_empty() {
        report.notes.push("Cold starts: no cargo-lambda builds in target/lambda (run `make package` first).".into());
    } else {
        let mut table = String::from("| function | cold start, median of 3 (ms) | runs |\n|---|---:|---|\n");
        for start in &starts {
            let mut ms = start.millis.clone();
            ms.sort_by(f64::total_cmp);
            let median = ms.get(ms.len() / 2).map_or("–".to_owned(), |m| format!("{m:.1}"));
            let runs = match &start.failed {
                Some(reason) => format!("failed: {reason}"),
                None => ms.iter().map(|m| format!("{m:.1}")).collect::<Vec<_>>().join(", "),
            };
            let _ = writeln!(table, "| {} | {median} | {runs} |", start.function);
        }
        println!("cold starts\n{table}");
        report.notes.push(format!(
            "Cold starts: `bootstrap` from `make package` (cargo lambda, release, x86_64) spawned under a minimal \
             Runtime API in this process; time from spawn to the first response (init, configuration, first \
             connections to the stores the handler touches). The platform's own sandbox start is not included.\n\n{table}"
        ));
    }

    finish(&report, oversold == 0 && rush_sound && gates_sound && mail_sound)
}

/// Writes bench/out (report.md, latency.png); fails if `sound` is false.
fn finish(report: &Report, sound: bool) -> anyhow::Result<()> {
    let markdown = report.markdown();
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("out");
    std::fs::create_dir_all(&out)?;
    std::fs::write(out.join("report.md"), &markdown)?;
    let series: Vec<(String, Vec<(f64, f64)>)> = report
        .rows
        .iter()
        .filter(|(s, _)| !s.name.starts_with("floor: PostgreSQL") && !s.name.starts_with("floor: Mongo"))
        .map(|(s, _)| (s.name.clone(), s.curve.clone()))
        .collect();
    match chart::draw(&out.join("latency.png"), "Latency by percentile (make bench)", &series) {
        Ok(()) => println!("chart: bench/out/latency.png"),
        Err(err) => println!("chart not drawn: {err}"),
    }
    println!("\n{markdown}\nwritten to bench/out/report.md");
    anyhow::ensure!(
        sound,
        "a storm or the rush sold a seat twice, sold the wrong number, or left the stores disagreeing"
    );
    Ok(())
}

/// Waits up to `deadline` for the pipeline to move every booking of `events`
/// out of PENDING; returns the RESERVED and still-PENDING counts.
async fn drain(pg: &sqlx::PgPool, events: &[String], deadline: Duration) -> anyhow::Result<(i64, i64)> {
    let give_up = Instant::now() + deadline;
    loop {
        let (reserved, pending): (i64, i64) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE status = 'RESERVED'), count(*) FILTER (WHERE status = 'PENDING')
             FROM bookings_demo.bookings WHERE event_id = ANY($1)",
        )
        .bind(events)
        .fetch_one(pg)
        .await?;
        if pending == 0 || Instant::now() > give_up {
            return Ok((reserved, pending));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// An event of at least `seats` seats (rows of 100, at most 10,000).
async fn create_event(http: &reqwest::Client, base: &str, admin: &str, seats: u64) -> anyhow::Result<String> {
    let seats = (seats.div_ceil(100) * 100).min(10_000);
    let body = serde_json::json!({
        "name": format!("Bench {}", uuid::Uuid::new_v4()), "venue": { "name": "Bench Arena" },
        "date": (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339(),
        "totalSeats": seats, "price": 50, "description": "benchmark", "category": "bench",
        "salesOpenAt": chrono::Utc::now().to_rfc3339(),
        "sections": [{ "name": "Floor", "price": 50, "rows": seats / 100, "seatsPerRow": 100 }]
    });
    // Writing thousands of seat documents to nx-27017 can outlast the load
    // client's 10 s timeout once the bench collections have grown.
    let response = http
        .post(format!("{base}/events"))
        .timeout(Duration::from_secs(120))
        .bearer_auth(admin)
        .json(&body)
        .send()
        .await?;
    let status = response.status();
    let created: serde_json::Value = response.json().await?;
    anyhow::ensure!(status.as_u16() == 201, "creating the bench event: {created}");
    Ok(created["data"]["id"].as_str().context("event id")?.to_owned())
}

/// Seat labels of a bench event, in order: A1…A100, B1…
fn label(i: u64) -> String {
    format!("{}{}", shared::domain::event::row_name((i / 100) as u32), i % 100 + 1)
}

/// The i-th booking takes the i-th seat of `events`, 10,000 seats each (the
/// largest event the API accepts).
fn book(
    http: reqwest::Client,
    base: &str,
    state: Arc<State>,
    events: Vec<String>,
) -> impl Fn(u64) -> std::pin::Pin<Box<dyn Future<Output = bool> + Send>> {
    let url = Arc::new(format!("{base}/bookings"));
    let events = Arc::new(events);
    move |i| {
        let (http, url, state) = (http.clone(), url.clone(), state.clone());
        let Some(event) = events.get((i / 10_000) as usize).cloned() else {
            return Box::pin(async { false });
        };
        let i = i % 10_000;
        Box::pin(async move {
            let token = match state.jwt.issue(uuid::Uuid::new_v4(), "buyer@bench", Role::User, Tier::Regular) {
                Ok(token) => token,
                Err(_) => return false,
            };
            let body = serde_json::json!({ "eventId": event, "seatIds": [format!("{event}_{}", label(i))] });
            match http.post(url.as_str()).bearer_auth(token).json(&body).send().await {
                Ok(response) => response.status().as_u16() == 201,
                Err(_) => false,
            }
        })
    }
}
