//! Logging: JSON lines on stdout, which CloudWatch ingests as structured
//! logs. The runtime opens a span per invocation carrying `requestId`, and
//! the formatter copies the current span's fields into every line.

use std::sync::Once;

use tracing_subscriber::{fmt, EnvFilter};

static INIT: Once = Once::new();

/// Installs the global subscriber once; later calls do nothing. The level
/// comes from `AWS_LAMBDA_LOG_LEVEL`, then `RUST_LOG`, else `info`.
pub fn init() {
    INIT.call_once(|| {
        let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
            .or_else(|_| std::env::var("RUST_LOG"))
            .unwrap_or_else(|_| "info".to_owned())
            .to_lowercase();
        let filter = EnvFilter::try_new(&level).unwrap_or_else(|_| EnvFilter::new("info"));
        let _ = fmt()
            .json()
            .with_env_filter(filter)
            .with_current_span(true)
            .with_span_list(false)
            .with_target(false)
            .with_ansi(false)
            .try_init();
    });
}
