//! The local stand-in for API Gateway, the MSK event-source mappings and
//! the schedule. Never deployed.
// The handlers' futures (through the Kafka producer and the AWS SDK types
// it may use) nest past the default when hyper checks the server's body type.
#![recursion_limit = "256"]

pub mod cors;
pub mod dispatch;
pub mod emulator;
pub mod routes;
pub mod server;
pub mod web;

use std::{path::Path, sync::Arc};

use shared::State;
use tokio::net::TcpListener;

/// Reads the route table from `template`, checks it against the linked
/// functions, and serves on `listener` until the task is dropped.
pub async fn start(template: &Path, state: Arc<State>, listener: TcpListener) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(template).map_err(|e| anyhow::anyhow!("reading {}: {e}", template.display()))?;
    let specs = routes::functions(&text)?;
    emulator::start(&specs, state.clone(), schedule_interval()).await?;
    let router = routes::Router::new(routes::routes(&text)?);
    let cors = cors::Cors::from_template(&text, template_parameter)?;
    let gateway = Arc::new(server::Gateway::new(router, state, cors)?.with_web(web::WebRoot::from_env()));
    gateway.serve(listener).await
}

/// Local values of the template's parameters that the gateway itself uses.
fn template_parameter(name: &str) -> Option<String> {
    match name {
        "AllowedOrigins" => Some(
            std::env::var("ALLOWED_ORIGINS")
                .ok()
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| cors::LOCAL_ALLOWED_ORIGINS.to_owned()),
        ),
        _ => None,
    }
}

/// template.yaml at the workspace root.
pub fn default_template() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("template.yaml")
}

/// How often the schedule emulator fires (`rate(1 minute)` on AWS; a few
/// seconds locally so expiry is visible quickly). `LOCAL_SCHEDULE_SECS`.
fn schedule_interval() -> std::time::Duration {
    let seconds = std::env::var("LOCAL_SCHEDULE_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(5);
    std::time::Duration::from_secs(seconds)
}
