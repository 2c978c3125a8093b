//! Cold start of each function binary built by `make package` (cargo lambda,
//! release): the time from spawning `bootstrap` to its first response, under
//! a minimal Lambda Runtime API served here. It is what a Lambda cold start
//! adds on top of the platform's own sandbox start (not measurable here).

use std::{
    convert::Infallible,
    path::Path,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use tokio::sync::Notify;

/// One function's first invocation.
pub struct ColdStart {
    pub function: String,
    pub millis: Vec<f64>,
    pub failed: Option<String>,
}

/// The event each kind of function gets on its first invocation.
fn first_event(function: &str, fixtures: &Path) -> Option<String> {
    let read = |name: &str| std::fs::read_to_string(fixtures.join(name)).ok();
    match function {
        "seat-reserver" | "booking-status" | "seat-projector" | "notifier" => read("msk/booking-cancelled.json"),
        "booking-sweeper" => Some(
            r#"{"version":"0","id":"bench","detail-type":"Scheduled Event","source":"aws.events","account":"123456789012",
                "time":"2026-11-25T00:00:00Z","region":"us-east-1","resources":[],"detail":{}}"#
                .to_owned(),
        ),
        // Deploy-time only: it answers CloudFormation through a presigned URL.
        "migrator" => None,
        http => {
            let mut event: serde_json::Value = serde_json::from_str(&read("apigw-v2/post-json.json")?).ok()?;
            let path = match http {
                "health" => "/health",
                "api-docs" => "/openapi.json",
                name if name.starts_with("events") => "/events",
                _ => "/bookings",
            };
            event["rawPath"] = path.into();
            event["requestContext"]["http"]["method"] = "GET".into();
            event["requestContext"]["http"]["path"] = path.into();
            event["routeKey"] = format!("GET {path}").into();
            Some(event.to_string())
        }
    }
}

#[derive(Default)]
struct Api {
    event: String,
    delivered: Mutex<bool>,
    answered: Notify,
    error: Mutex<Option<String>>,
}

async fn runtime_api(api: Arc<Api>, listener: tokio::net::TcpListener) {
    while let Ok((stream, _)) = listener.accept().await {
        let api = api.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let api = api.clone();
                async move {
                    let path = req.uri().path().to_owned();
                    let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                    let mut response = hyper::Response::new(Full::new(Bytes::new()));
                    if path.ends_with("/invocation/next") {
                        let first = !std::mem::replace(&mut *api.delivered.lock().unwrap(), true);
                        if !first {
                            // One invocation per process: park the runtime.
                            tokio::time::sleep(Duration::from_secs(3600)).await;
                        }
                        let deadline = chrono::Utc::now().timestamp_millis() + 30_000;
                        let headers = response.headers_mut();
                        headers.insert("lambda-runtime-aws-request-id", "bench-request".parse().unwrap());
                        headers.insert("lambda-runtime-deadline-ms", deadline.to_string().parse().unwrap());
                        headers.insert(
                            "lambda-runtime-invoked-function-arn",
                            "arn:aws:lambda:us-east-1:123456789012:function:bench".parse().unwrap(),
                        );
                        headers.insert(
                            "lambda-runtime-trace-id",
                            "Root=1-00000000-000000000000000000000000".parse().unwrap(),
                        );
                        *response.body_mut() = Full::new(Bytes::from(api.event.clone()));
                    } else {
                        if path.ends_with("/error") {
                            *api.error.lock().unwrap() = Some(String::from_utf8_lossy(&body).into_owned());
                        }
                        *response.status_mut() = hyper::StatusCode::ACCEPTED;
                        api.answered.notify_one();
                    }
                    Ok::<_, Infallible>(response)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn once(bootstrap: &Path, function: &str, event: &str) -> Result<f64, String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let api = Arc::new(Api { event: event.to_owned(), ..Default::default() });
    let server = tokio::spawn(runtime_api(api.clone(), listener));
    let started = Instant::now();
    let mut child = tokio::process::Command::new(bootstrap)
        .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}"))
        .env("AWS_LAMBDA_FUNCTION_NAME", function)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| e.to_string())?;
    let answered = tokio::time::timeout(Duration::from_secs(30), api.answered.notified()).await;
    let elapsed = started.elapsed().as_secs_f64() * 1000.0;
    let _ = child.kill().await;
    server.abort();
    let error = api.error.lock().unwrap().take();
    match (answered, error) {
        (Err(_), _) => Err("no response within 30 s".to_owned()),
        (Ok(()), Some(error)) => Err(error.chars().take(200).collect()),
        (Ok(()), None) => Ok(elapsed),
    }
}

/// Every function under `lambda_dir` (target/lambda/<name>/bootstrap), three
/// cold starts each.
pub async fn measure(lambda_dir: &Path, fixtures: &Path) -> Vec<ColdStart> {
    let mut functions: Vec<String> = std::fs::read_dir(lambda_dir)
        .map(|dir| dir.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    functions.sort();
    let mut results = Vec::new();
    for function in functions {
        let bootstrap = lambda_dir.join(&function).join("bootstrap");
        let Some(event) = first_event(&function, fixtures).filter(|_| bootstrap.exists()) else {
            continue;
        };
        let mut result = ColdStart { function: function.clone(), millis: Vec::new(), failed: None };
        for _ in 0..3 {
            match once(&bootstrap, &function, &event).await {
                Ok(ms) => result.millis.push(ms),
                Err(reason) => {
                    result.failed = Some(reason);
                    break;
                }
            }
        }
        results.push(result);
    }
    results
}
