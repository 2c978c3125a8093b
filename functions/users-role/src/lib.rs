//! `PUT /users/{id}/role` (admin): makes a user door staff, an admin, or a
//! plain user again. The new role applies from their next login.

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
    let admin = state.jwt.require_admin(req)?;
    let id = accounts::parse_user_id(&http::path_param(req, "id")?)?;
    let change = http::parse_json(req, state.config.max_body_bytes)?;
    http::Reply::ok(&accounts::set_role(&state.users(), &admin, id, change).await?)
}
