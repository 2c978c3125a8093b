//! `PUT /users/{id}/role` (admin): makes a user door staff, an admin, or a
//! plain user again. The account's older tokens are revoked: the new role
//! applies from their next login, and the old one from now on no longer.

use lambda_http::{Body, Error, Request, Response};
use shared::aws_access::Access;
use shared::{accounts, http, State};

/// The AWS calls this function's code makes; its role in template.yaml
/// allows these and no more (checked by the deploy rehearsal).
pub const AWS_ACCESS: Access = Access::STORES;

pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, Error> {
    Ok(http::respond(set_role(state, &req).await))
}

async fn set_role(state: &State, req: &Request) -> Result<http::Reply, shared::ApiError> {
    let admin = state.require_admin(req).await?;
    let id = accounts::parse_user_id(&http::path_param(req, "id")?)?;
    let change = http::parse_json(req, state.config.max_body_bytes)?;
    http::Reply::ok(&state.set_role(&admin, id, change).await?)
}
