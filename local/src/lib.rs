//! The local stand-in for API Gateway (and, later, for the MSK event-source
//! mappings and the schedule). Never deployed.

pub mod dispatch;
pub mod routes;
pub mod server;

use std::{path::Path, sync::Arc};

use shared::State;
use tokio::net::TcpListener;

/// Reads the route table from `template`, checks it against the linked
/// functions, and serves on `listener` until the task is dropped.
pub async fn start(template: &Path, state: Arc<State>, listener: TcpListener) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(template).map_err(|e| anyhow::anyhow!("reading {}: {e}", template.display()))?;
    let router = routes::Router::new(routes::routes(&text)?);
    let gateway = Arc::new(server::Gateway::new(router, state)?);
    gateway.serve(listener).await
}

/// template.yaml at the workspace root.
pub fn default_template() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("template.yaml")
}
