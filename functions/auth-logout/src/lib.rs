//! `POST /auth/logout`: revokes every token of the caller's account (all
//! devices; tokens are not tracked one by one). Instances that read the
//! account before the logout refuse its tokens within `ACCESS_CACHE_MS`.

use lambda_http::{Body, Error, Request, Response};
use shared::aws_access::Access;
use shared::{http, State};

/// The AWS calls this function's code makes; its role in template.yaml
/// allows these and no more (checked by the deploy rehearsal).
pub const AWS_ACCESS: Access = Access::STORES;

pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, Error> {
    Ok(http::respond(logout(state, &req).await))
}

async fn logout(state: &State, req: &Request) -> Result<http::Reply, shared::ApiError> {
    let claims = state.authenticate(req).await?;
    state.logout(&claims).await?;
    http::Reply::ok(&serde_json::json!({ "loggedOut": true }))
}
