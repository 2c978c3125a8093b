//! Dependency checks for `GET /health`: each store and the broker is pinged
//! with a deadline, and reported with its round-trip time.

use std::{
    future::Future,
    time::{Duration, Instant},
};

use rdkafka::producer::Producer;
use serde::Serialize;

use crate::{error::ApiError, state::State};

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Serialize, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Up,
    Down,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub latency_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub status: Status,
    pub checks: Vec<Check>,
}

async fn timed<F>(name: &'static str, ping: F) -> Check
where
    F: Future<Output = Result<(), String>>,
{
    let started = Instant::now();
    let outcome = tokio::time::timeout(CHECK_TIMEOUT, ping).await;
    let latency_ms = (started.elapsed().as_secs_f64() * 1000.0 * 100.0).round() / 100.0;
    let error = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(message)) => Some(message),
        Err(_) => Some(format!("no answer within {} ms", CHECK_TIMEOUT.as_millis())),
    };
    if let Some(error) = &error {
        tracing::warn!(dependency = name, error, "health check failed");
    }
    Check { name, status: if error.is_none() { Status::Up } else { Status::Down }, latency_ms, error }
}

/// Failures are summarised ("unreachable") rather than quoted, since the
/// health endpoint is public and driver messages can name hosts and users.
fn unreachable<E>(_: E) -> String {
    "unreachable".to_owned()
}

pub async fn check(state: &State) -> Report {
    let postgres =
        timed("postgres", async { sqlx::query("SELECT 1").execute(state.pg()).await.map(drop).map_err(unreachable) });
    let redis = timed("redis", async {
        let mut redis = state.redis().await.map_err(unreachable)?;
        redis::cmd("PING").query_async::<String>(&mut redis).await.map(drop).map_err(unreachable)
    });
    let mongo = timed("mongo", async {
        state.mongo().run_command(mongodb::bson::doc! { "ping": 1 }).await.map(drop).map_err(unreachable)
    });
    // Up means the broker answers AND has our topics: a broker that restarted
    // empty accepts connections while every consumer stalls.
    let expected = crate::kafka::topic_names(&state.config);
    // Boxed: the producer's construction (brokers, credentials) makes this
    // future deep enough to reach the compiler's layout limit.
    let kafka = Box::pin(timed("kafka", async {
        let producer = state.kafka().await.map_err(unreachable)?;
        let metadata = tokio::task::spawn_blocking(move || producer.client().fetch_metadata(None, CHECK_TIMEOUT))
            .await
            .map_err(unreachable)?
            .map_err(unreachable)?;
        let present: std::collections::HashSet<&str> = metadata.topics().iter().map(|t| t.name()).collect();
        let missing = expected.iter().filter(|name| !present.contains(name.as_str())).count();
        match missing {
            0 => Ok(()),
            n => Err(format!("{n} of {} topics missing", expected.len())),
        }
    }));
    let (postgres, redis, mongo, kafka) = tokio::join!(postgres, redis, mongo, kafka);
    let checks = vec![postgres, redis, mongo, kafka];
    let status = if checks.iter().all(|c| c.status == Status::Up) { Status::Up } else { Status::Down };
    Report { status, checks }
}

/// What an anonymous caller sees: up or down, not which store is down (that
/// tells an attacker where to push; the logs and admins get the detail).
#[derive(Debug, Serialize)]
pub struct Summary {
    pub status: Status,
}

/// The health report as a reply: 200 when every dependency is up, else 503
/// with the same body, so load balancers and people read one format. Each
/// check's detail is shown to an admin only (`detailed`).
pub async fn reply(state: &State, detailed: bool) -> Result<crate::http::Reply, ApiError> {
    let report = check(state).await;
    let status = match report.status {
        Status::Up => http::StatusCode::OK,
        Status::Down => http::StatusCode::SERVICE_UNAVAILABLE,
    };
    if detailed {
        crate::http::Reply::with_status(status, &report)
    } else {
        crate::http::Reply::with_status(status, &Summary { status: report.status })
    }
}
