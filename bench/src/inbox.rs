//! The notifier under load: fans book a seat and pay at a fixed rate while
//! the gateway's consumers run; every confirmation must reach the mail
//! server (MailDev, which `make bench` uses as `make dev` does), once. The
//! lag runs from the payment's commit (the booking's `updated_at` in
//! PostgreSQL) to MailDev's receipt of the message: outbox relay, Kafka, the
//! event-source emulator's batch, the ledger claim, rendering (two QR codes'
//! worth of SVG), and the SMTP conversation.

use std::{collections::HashMap, sync::Arc, time::Duration};

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use shared::{
    domain::user::{Email, NewUser, Role, Tier},
    repo::UserStore,
    State,
};

use super::{create_event, fixed_rate, Report, Stats};

/// MailDev's REST API (local/stack.sh starts it).
fn inbox_url() -> String {
    std::env::var("MAILDEV_URL").unwrap_or_else(|_| "http://127.0.0.1:1080".to_owned())
}

/// The fans' mailboxes: one domain per run, so this run's messages are
/// told apart from everything else the inbox holds.
fn address(run: &str, fan: u64) -> String {
    format!("fan{fan}@{run}.bench.test")
}

/// Every message MailDev holds for this run: (recipient, received at).
async fn received(http: &reqwest::Client, run: &str) -> anyhow::Result<Vec<(String, DateTime<Utc>)>> {
    let all: Vec<Value> = http.get(format!("{}/api/email", inbox_url())).send().await?.json().await?;
    let domain = format!("@{run}.bench.test");
    Ok(all
        .iter()
        .filter_map(|mail| {
            let to = mail["to"][0]["address"].as_str()?;
            let at = mail["time"].as_str()?.parse::<DateTime<Utc>>().ok()?;
            to.ends_with(&domain).then(|| (to.to_owned(), at))
        })
        .collect())
}

/// The mail server's own pace: 400 messages the size of a two-ticket
/// confirmation, sent straight through the notifier's mailer (SMTP to
/// MailDev) 16 at a time, as the consumer sends them.
async fn smtp_floor(report: &mut Report, state: &State, run: &str) -> anyhow::Result<()> {
    use shared::notifier::{Attachment, Mail};
    let mailer = shared::mail::from_config(&state.config).await?;
    let mailer = mailer.as_ref();
    let qr = format!("<svg>{}</svg>", "<path d=\"M0 0h1v1H0z\"/>".repeat(900));
    let mail = |i: u64| Mail {
        key: format!("floor.{run}.{i}"),
        to_email: format!("floor{i}@floor-{run}.bench.test"),
        subject: "floor".into(),
        html: format!("<p>{}</p>{qr}{qr}", "x".repeat(2000)),
        text: "x".repeat(1500),
        attachments: (0..2)
            .map(|k| Attachment {
                file_name: format!("t{k}.svg"),
                content_type: "image/svg+xml",
                body: qr.clone().into_bytes(),
            })
            .collect(),
    };
    let started = std::time::Instant::now();
    let mut micros = Vec::new();
    let mut errors = 0;
    for chunk in (0..400u64).collect::<Vec<_>>().chunks(16) {
        let sends = chunk.iter().map(|&i| {
            let mail = mail(i);
            async move {
                let t = std::time::Instant::now();
                mailer.send(&mail).await.map(|_| t.elapsed().as_micros() as u64)
            }
        });
        for sent in futures::future::join_all(sends).await {
            match sent {
                Ok(us) => micros.push(us),
                Err(_) => errors += 1,
            }
        }
    }
    report.add(
        Stats::from("floor: SMTP send to MailDev (16 at a time)", micros, errors, started.elapsed().as_secs_f64()),
        None,
    );
    Ok(())
}

/// Books and pays at `BENCH_MAIL_RATE` fans a second (default 100) for 10
/// seconds, then waits for every confirmation; false if one is missing or
/// any fan got two.
pub async fn inbox(report: &mut Report, base: &str, state: &Arc<State>, admin: &str) -> anyhow::Result<bool> {
    let rate: u64 = std::env::var("BENCH_MAIL_RATE").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    let fans = rate * 10;
    let http = super::client(500);
    let event = create_event(&http, base, admin, fans).await?;
    let run = format!("r{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    // Accounts straight into the store: argon2 at the production cost for
    // thousands of fans would measure the password hash, not the notifier.
    let users = state.users();
    let mut tokens = Vec::with_capacity(fans as usize);
    for fan in 0..fans {
        let new = NewUser {
            email: Email::parse(&address(&run, fan)).map_err(|e| anyhow::anyhow!("{e}"))?,
            name: format!("Fan {fan}"),
            password: String::new(),
            phone: None,
            tier: Tier::Regular,
            role: Role::User,
        };
        let user = users.insert(&new, "not-a-login-account").await?;
        // Booking mail goes only to proven addresses (docs/decisions.md).
        sqlx::query("UPDATE users_demo.users SET email_verified_at = now() WHERE id = $1")
            .bind(user.id)
            .execute(state.pg())
            .await?;
        tokens.push(state.jwt.issue(user.id, &user.email, Role::User, Tier::Regular)?);
    }
    let tokens = Arc::new(tokens);
    smtp_floor(report, state, &run).await?;
    println!("notifier: {fans} fans book and pay at {rate}/s; every confirmation must reach MailDev once");
    let buy = {
        let (http, base, event, tokens) = (http.clone(), base.to_owned(), event.clone(), tokens.clone());
        move |i: u64| {
            let (http, base, event, tokens) = (http.clone(), base.clone(), event.clone(), tokens.clone());
            Box::pin(async move {
                let token = &tokens[i as usize];
                let seat = format!("{event}_{}", super::label(i));
                let booked: Value = match http
                    .post(format!("{base}/bookings"))
                    .bearer_auth(token)
                    .json(&json!({ "eventId": event, "seatIds": [seat] }))
                    .send()
                    .await
                {
                    Ok(response) => response.json().await.unwrap_or_default(),
                    Err(_) => return false,
                };
                let Some(id) = booked["data"]["id"].as_str() else { return false };
                let card = json!({ "paymentMethod": { "type": "card", "cardNumber": "4242 4242 4242 4242" } });
                let paid = http.post(format!("{base}/bookings/{id}/pay")).bearer_auth(token).json(&card).send().await;
                paid.is_ok_and(|r| r.status() == 200)
            }) as std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>>
        }
    };
    let bought =
        fixed_rate("book + pay (a fan's checkout, for the notifier)", rate, Duration::from_secs(10), buy).await;
    let paid_count = bought.count as u64;
    report.add(bought, None);

    // When each fan's payment committed, by address.
    let paid_at: HashMap<String, DateTime<Utc>> = sqlx::query_as::<_, (String, DateTime<Utc>)>(
        "SELECT u.email, b.updated_at FROM bookings_demo.bookings b JOIN users_demo.users u ON u.id = b.user_id
          WHERE b.event_id = $1 AND b.status = 'CONFIRMED'",
    )
    .bind(&event)
    .fetch_all(state.pg())
    .await?
    .into_iter()
    .collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let mut mails = received(&http, &run).await?;
    while (mails.len() as u64) < paid_count && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        mails = received(&http, &run).await.context("reading MailDev")?;
    }
    tokio::time::sleep(Duration::from_secs(2)).await; // a duplicate on its way would land
    let mails = received(&http, &run).await?;
    let mut per_fan: HashMap<&str, u32> = HashMap::new();
    let mut lags = Vec::with_capacity(mails.len());
    for (to, at) in &mails {
        *per_fan.entry(to.as_str()).or_default() += 1;
        if let Some(paid) = paid_at.get(to) {
            lags.push((*at - *paid).num_microseconds().unwrap_or(0).max(0) as u64);
        }
    }
    let (first, last) = (mails.iter().map(|m| m.1).min(), mails.iter().map(|m| m.1).max());
    let span = match (first, last) {
        (Some(first), Some(last)) => (last - first).num_milliseconds().max(1) as f64 / 1000.0,
        _ => 1.0,
    };
    let twice = per_fan.values().filter(|n| **n > 1).count();
    let missing = paid_at.len().saturating_sub(per_fan.len());
    report.add(Stats::from("payment committed → confirmation in the inbox", lags, missing as u64, span), None);
    report.notes.push(format!(
        "**Notifier** ({rate} checkouts/s for 10 s, tickets attached): {} of {} paid fans mailed, {twice} mailed twice, \
         {missing} missing; delivered at {:.0} mails/s (first to last receipt).",
        per_fan.len(),
        paid_at.len(),
        mails.len() as f64 / span
    ));
    println!("  mailed {} of {} paid fans, {twice} twice, {missing} missing", per_fan.len(), paid_at.len());
    Ok(twice == 0 && missing == 0 && !paid_at.is_empty())
}
