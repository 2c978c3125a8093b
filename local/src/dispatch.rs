//! The function crates linked into the gateway, by binary name. A function
//! added to template.yaml must be added here too; the parity test in tests/
//! and the check at start-up both fail until it is.

use lambda_http::{Body, Error, Request, Response};
use shared::State;

pub const HTTP_FUNCTIONS: &[&str] =
    &["auth-login", "auth-register", "events-create", "events-get", "events-list", "events-seats", "health"];

/// Calls an HTTP function's handler in-process; `None` if no such function
/// is linked.
pub async fn invoke_http(function: &str, state: &State, req: Request) -> Option<Result<Response<Body>, Error>> {
    Some(match function {
        "auth-login" => auth_login::handle(state, req).await,
        "auth-register" => auth_register::handle(state, req).await,
        "events-create" => events_create::handle(state, req).await,
        "events-get" => events_get::handle(state, req).await,
        "events-list" => events_list::handle(state, req).await,
        "events-seats" => events_seats::handle(state, req).await,
        "health" => health::handle(state, req).await,
        _ => return None,
    })
}
