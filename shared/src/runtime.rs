//! Lambda bootstraps. A function's `main` is one line: it hands its handler
//! to one of these, which set up logging, build the shared [`State`] once
//! for the life of the instance, and run the Lambda runtime loop.

use std::future::Future;

use lambda_http::{service_fn, Body, Error, Request, Response};

use crate::{state::State, telemetry};

async fn cold_start() -> Result<&'static State, Error> {
    telemetry::init();
    let state = State::from_env().await.map_err(|e| {
        tracing::error!(error.cause_chain = ?e, "configuration failed at cold start");
        e
    })?;
    // The state lives as long as the process; leaking it lets every
    // invocation borrow it without reference counting.
    Ok(Box::leak(Box::new(state)))
}

/// Runs an API Gateway (HTTP API) handler.
pub async fn serve_http<F, Fut>(handler: F) -> Result<(), Error>
where
    F: Fn(&'static State, Request) -> Fut,
    Fut: Future<Output = Result<Response<Body>, Error>> + Send,
{
    let state = cold_start().await?;
    lambda_http::run(service_fn(move |req| handler(state, req))).await
}

/// Runs a handler for a non-HTTP event (Kafka batches, schedules).
pub async fn serve_event<E, R, F, Fut>(handler: F) -> Result<(), Error>
where
    E: serde::de::DeserializeOwned + Send + 'static,
    R: serde::Serialize + Send + 'static,
    F: Fn(&'static State, lambda_runtime::LambdaEvent<E>) -> Fut,
    Fut: Future<Output = Result<R, Error>> + Send + 'static,
{
    let state = cold_start().await?;
    // Boxed so the runtime's own future type stays shallow: the consumers'
    // futures are deep enough to hit the compiler's layout limit otherwise.
    lambda_runtime::run(lambda_runtime::service_fn(move |event| Box::pin(handler(state, event)))).await
}
