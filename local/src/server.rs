//! What API Gateway's HTTP API does for a Lambda proxy integration, in one
//! process: match the route, build the v2 proxy event, call the handler,
//! write its response.

use std::{convert::Infallible, net::SocketAddr, panic::AssertUnwindSafe, sync::Arc};

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpRequestContext};
use base64::Engine;
use bytes::Bytes;
use futures::FutureExt;
use http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::{body::Incoming, service::service_fn};
use hyper_util::rt::{TokioExecutor, TokioIo};
use lambda_http::request::LambdaRequest;
use shared::{http::error_response, ApiError, State};
use tokio::net::TcpListener;
use tracing::Instrument;

use crate::{
    cors::Cors,
    dispatch,
    routes::{Match, Router},
    web::WebRoot,
};

pub struct Gateway {
    pub router: Router,
    pub state: Arc<State>,
    /// The HttpApi's CorsConfiguration, if the template has one.
    pub cors: Option<Cors>,
    /// The built web app, served at `/` where no route matches.
    pub web: Option<WebRoot>,
}

type HttpResponse = hyper::Response<Full<Bytes>>;

impl Gateway {
    /// Fails if a route names a function that is not linked in.
    pub fn new(router: Router, state: Arc<State>, cors: Option<Cors>) -> anyhow::Result<Gateway> {
        if let Some(route) = router.routes().find(|r| !dispatch::HTTP_FUNCTIONS.contains(&r.function.as_str())) {
            anyhow::bail!(
                "template.yaml routes {} {} to `{}`, which the gateway does not link",
                route.method,
                route.path,
                route.function
            );
        }
        Ok(Gateway { router, state, cors, web: None })
    }

    pub fn with_web(mut self, web: Option<WebRoot>) -> Gateway {
        self.web = web;
        self
    }

    /// Accepts connections until the listener fails; each connection is
    /// served on its own task (HTTP/1.1 with keep-alive).
    pub async fn serve(self: Arc<Self>, listener: TcpListener) -> anyhow::Result<()> {
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(err) => {
                    // EMFILE under a connection storm: back off, do not die.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let gateway = self.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let gateway = gateway.clone();
                    async move { Ok::<_, Infallible>(gateway.handle(req, peer).await) }
                });
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                if let Err(err) = builder.serve_connection(TokioIo::new(stream), service).await {
                    tracing::debug!(error = %err, "connection closed with error");
                }
            });
        }
    }

    pub async fn handle(&self, req: hyper::Request<Incoming>, peer: SocketAddr) -> HttpResponse {
        let request_id = uuid::Uuid::new_v4().to_string();
        let span =
            tracing::info_span!("request", requestId = %request_id, method = %req.method(), path = %req.uri().path());
        let mut response = match &self.cors {
            // Answered here, on any path, as API Gateway does: no function runs.
            Some(cors) if Cors::is_preflight(req.method(), req.headers()) => {
                let mut response = hyper::Response::new(Full::new(Bytes::new()));
                *response.status_mut() = StatusCode::NO_CONTENT;
                *response.headers_mut() = cors.preflight_headers(req.headers());
                response
            }
            Some(cors) => {
                let origin: HeaderMap =
                    req.headers().get(header::ORIGIN).map(|o| (header::ORIGIN, o.clone())).into_iter().collect();
                let mut response = self.route(req, peer, &request_id).instrument(span).await;
                cors.apply(&origin, response.headers_mut());
                response
            }
            None => self.route(req, peer, &request_id).instrument(span).await,
        };
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            response.headers_mut().insert("apigw-requestid", value);
        }
        response
    }

    async fn route(&self, req: hyper::Request<Incoming>, peer: SocketAddr, request_id: &str) -> HttpResponse {
        let path = req.uri().path().to_owned();
        let (route, params) = match self.router.find(req.method(), &path) {
            Match::Found { route, params } => (route.clone(), params),
            Match::NotFound => {
                let page = match (&self.web, req.method()) {
                    (Some(web), &Method::GET | &Method::HEAD) => web.file(&path).await,
                    _ => None,
                };
                return page.unwrap_or_else(|| to_http(error_response(&ApiError::NotFound("Route not found".into()))));
            }
            Match::MethodNotAllowed { allowed } => {
                let mut response = to_http(error_response(&ApiError::MethodNotAllowed(format!(
                    "{} is not supported on this route",
                    req.method()
                ))));
                let allow = allowed.iter().map(Method::as_str).collect::<Vec<_>>().join(", ");
                if let Ok(allow) = HeaderValue::from_str(&allow) {
                    response.headers_mut().insert(header::ALLOW, allow);
                }
                return response;
            }
        };
        let limit = self.state.config.max_body_bytes;
        let (parts, body) = req.into_parts();
        let declared = parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
        let body = match read_body(body, declared, limit).await {
            Ok(body) => body,
            Err(BodyError::TooLarge) => return to_http(error_response(&ApiError::PayloadTooLarge { limit })),
            Err(BodyError::Unreadable) => {
                return to_http(error_response(&ApiError::BadRequest("Could not read the request body".into())))
            }
        };

        let event = proxy_event(&parts, body, &route.method, &route.path, params, peer, request_id);
        let lambda_request: lambda_http::Request = LambdaRequest::ApiGatewayV2(event).into();
        let invocation = dispatch::invoke_http(&route.function, &self.state, lambda_request);
        match AssertUnwindSafe(invocation).catch_unwind().await {
            Ok(Some(Ok(response))) => to_http(response),
            Ok(None) => to_http(error_response(&ApiError::NotFound("Route not found".into()))),
            // What API Gateway answers when the function returns an error
            // or its instance dies (release builds abort on panic).
            Ok(Some(Err(err))) => {
                tracing::error!(function = %route.function, error = %err, "function returned an error");
                api_gateway_failure(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
            }
            Err(_) => {
                tracing::error!(function = %route.function, "function panicked");
                api_gateway_failure(StatusCode::BAD_GATEWAY, "Bad Gateway")
            }
        }
    }
}

/// The HTTP API v2 proxy event, as API Gateway builds it: repeated headers
/// and query parameters joined with commas, bodies that are not UTF-8 sent
/// base64-encoded.
fn proxy_event(
    parts: &http::request::Parts,
    body: Bytes,
    method: &Method,
    route_path: &str,
    params: std::collections::BTreeMap<String, String>,
    peer: SocketAddr,
    request_id: &str,
) -> ApiGatewayV2httpRequest {
    let mut headers = HeaderMap::new();
    for name in parts.headers.keys() {
        let joined = parts.headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>().join(",");
        if let Ok(value) = HeaderValue::from_str(&joined) {
            headers.insert(name.clone(), value);
        }
    }
    let raw_query = parts.uri.query().unwrap_or("").to_owned();
    let mut query: std::collections::HashMap<String, Vec<String>> = std::collections::HashMap::new();
    for (key, value) in form_urlencoded::parse(raw_query.as_bytes()) {
        query.entry(key.into_owned()).or_default().push(value.into_owned());
    }
    let query: std::collections::HashMap<String, String> = query.into_iter().map(|(k, v)| (k, v.join(","))).collect();

    let now = chrono::Utc::now();
    let mut http_description = aws_lambda_events::apigw::ApiGatewayV2httpRequestContextHttpDescription::default();
    http_description.method = parts.method.clone();
    http_description.path = Some(parts.uri.path().to_owned());
    http_description.protocol = Some("HTTP/1.1".into());
    http_description.source_ip = Some(peer.ip().to_string());
    http_description.user_agent =
        parts.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned);

    let mut context = ApiGatewayV2httpRequestContext::default();
    context.route_key = Some(format!("{method} {route_path}"));
    context.account_id = Some("000000000000".into());
    context.stage = Some("$default".into());
    context.request_id = Some(request_id.to_owned());
    context.apiid = Some("local".into());
    context.domain_name = parts.headers.get(header::HOST).and_then(|v| v.to_str().ok()).map(str::to_owned);
    context.time = Some(now.format("%d/%b/%Y:%H:%M:%S %z").to_string());
    context.time_epoch = now.timestamp_millis();
    context.http = http_description;

    let mut event = ApiGatewayV2httpRequest::default();
    event.version = Some("2.0".into());
    event.route_key = context.route_key.clone();
    event.raw_path = Some(parts.uri.path().to_owned());
    event.raw_query_string = Some(raw_query);
    event.headers = headers;
    event.query_string_parameters = query.into();
    event.path_parameters = params.into_iter().collect();
    event.request_context = context;
    if !body.is_empty() {
        match String::from_utf8(body.to_vec()) {
            Ok(text) => event.body = Some(text),
            Err(_) => {
                event.body = Some(base64::engine::general_purpose::STANDARD.encode(&body));
                event.is_base64_encoded = true;
            }
        }
    }
    event
}

fn to_http(response: lambda_http::Response<lambda_http::Body>) -> HttpResponse {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        lambda_http::Body::Text(text) => Bytes::from(text),
        lambda_http::Body::Binary(binary) => Bytes::from(binary),
        _ => Bytes::new(),
    };
    hyper::Response::from_parts(parts, Full::new(bytes))
}

fn api_gateway_failure(status: StatusCode, message: &str) -> HttpResponse {
    let body = serde_json::json!({ "message": message }).to_string();
    let mut response = hyper::Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Oversized bodies up to this size are read to the end and thrown away
/// before the 413 goes out. Answering while the client is still sending
/// makes hyper close the connection under it, and the client sees a broken
/// pipe instead of the JSON error. Anything larger is cut off.
const DRAIN_LIMIT: usize = 16 * 1024 * 1024;

enum BodyError {
    TooLarge,
    Unreadable,
}

/// The request body if it fits in `limit` bytes (as API Gateway refuses
/// bigger payloads).
async fn read_body(mut body: Incoming, declared: Option<usize>, limit: usize) -> Result<Bytes, BodyError> {
    if declared.is_some_and(|len| len > DRAIN_LIMIT) {
        return Err(BodyError::TooLarge);
    }
    let mut kept = bytes::BytesMut::new();
    let (mut received, mut too_large) = (0usize, declared.is_some_and(|len| len > limit));
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| BodyError::Unreadable)?;
        let Some(data) = frame.data_ref() else { continue };
        received += data.len();
        if received > DRAIN_LIMIT {
            return Err(BodyError::TooLarge);
        }
        too_large |= received > limit;
        if !too_large {
            kept.extend_from_slice(data);
        }
    }
    if too_large {
        Err(BodyError::TooLarge)
    } else {
        Ok(kept.freeze())
    }
}
