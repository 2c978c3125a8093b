//! `Idempotency-Key`: the first response to a (user, key) pair is stored and
//! replayed for every retry; the same key on a different request is a 422.
//! 4xx answers are stored too (a retry gets the same 409); a 5xx releases
//! the key so the client can retry for real.

use std::{future::Future, time::Duration};

use http::StatusCode;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{
    error::ApiError,
    http::{error_body, Reply},
    repo::booking_ports::{IdempotencyClaim, IdempotencyStore},
    state::State,
};

/// How long a retry waits for the first request with its key to finish.
const IN_PROGRESS_WAIT: Duration = Duration::from_secs(5);

pub fn request_hash(method: &str, path: &str, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    for part in [method.as_bytes(), b"\n", path.as_bytes(), b"\n", body] {
        hasher.update(part);
    }
    hex::encode(hasher.finalize())
}

/// `once` for an HTTP request: the key from its `Idempotency-Key` header,
/// the request identified by its method, `path` (the route as the client
/// called it) and body.
pub async fn once_per_request<F, Fut>(
    state: &State,
    req: &lambda_http::Request,
    user: Uuid,
    path: &str,
    work: F,
) -> Result<Reply, ApiError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Reply, ApiError>>,
{
    let hash = request_hash(req.method().as_str(), path, crate::http::body_bytes(req, state.config.max_body_bytes)?);
    let key = crate::http::idempotency_key(req)?;
    once(&state.booking_repo(), state.config.idempotency_lease, user, key.as_deref(), &hash, work).await
}

/// Runs `work` once per (user, key); without a key it simply runs it.
pub async fn once<F, Fut>(
    store: &dyn IdempotencyStore,
    lease: Duration,
    user: Uuid,
    key: Option<&str>,
    hash: &str,
    work: F,
) -> Result<Reply, ApiError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Reply, ApiError>>,
{
    let Some(key) = key else {
        return work().await;
    };
    let deadline = tokio::time::Instant::now() + IN_PROGRESS_WAIT;
    loop {
        match store.claim_key(user, key, hash, lease).await? {
            IdempotencyClaim::Claimed => break,
            IdempotencyClaim::Replay { status, body } => {
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
                return Ok(Reply::raw(status, body).header(
                    http::HeaderName::from_static("idempotent-replayed"),
                    http::HeaderValue::from_static("true"),
                ));
            }
            IdempotencyClaim::Mismatch => {
                return Err(ApiError::Unprocessable(
                    "This Idempotency-Key was already used for a different request".into(),
                ))
            }
            IdempotencyClaim::InProgress if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            IdempotencyClaim::InProgress => {
                return Err(ApiError::conflict("A request with this Idempotency-Key is still in progress"))
            }
        }
    }
    let result = work().await;
    let stored = match &result {
        Ok(reply) => Some((reply.status(), reply.body().to_vec())),
        Err(err) if !err.status().is_server_error() => Some((err.status(), error_body(err).to_string().into_bytes())),
        Err(_) => None,
    };
    match stored {
        Some((status, body)) => store.complete_key(user, key, status.as_u16(), &body).await?,
        None => store.release_key(user, key).await?,
    }
    result
}
