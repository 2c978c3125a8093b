//! `POST /auth/verify/resend` (logged in): a new verification link to the
//! caller's own address, at most one a minute.

use lambda_http::{http::StatusCode, Body, Error, Request, Response};
use shared::aws_access::Access;
use shared::{accounts, http, State};

/// The AWS calls this function's code makes; its role in template.yaml
/// allows these and no more (checked by the deploy rehearsal).
pub const AWS_ACCESS: Access = Access::STORES.sending_mail();

pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, Error> {
    Ok(http::respond(resend(state, &req).await))
}

async fn resend(state: &State, req: &Request) -> Result<http::Reply, shared::ApiError> {
    let caller = state.authenticate(req).await?;
    let limiter = state.rate_limiter().await?;
    let mail = state.account_mailer(&limiter).await?;
    match accounts::resend_verification(&state.users(), &mail, &caller).await? {
        Some(sent) => http::Reply::with_status(StatusCode::ACCEPTED, &sent),
        None => http::Reply::ok(&serde_json::json!({ "emailVerified": true })),
    }
}
