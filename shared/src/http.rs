//! HTTP plumbing for handlers: body parsing with a size limit, the success
//! and error envelopes, and path/query helpers. Handlers stay three steps:
//! parse → call the domain → `respond`.

use http::{header, HeaderName, HeaderValue, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::{de::DeserializeOwned, Serialize};
use serde_json::error::Category;

use crate::error::ApiError;

/// A successful response: status, the serialized `{"success":true,"data":…}`
/// body and any extra headers.
#[derive(Debug)]
pub struct Reply {
    status: StatusCode,
    body: Vec<u8>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

#[derive(Serialize)]
struct Success<'a, T: Serialize> {
    success: bool,
    data: &'a T,
}

impl Reply {
    pub fn with_status<T: Serialize>(status: StatusCode, data: &T) -> Result<Reply, ApiError> {
        let body = serde_json::to_vec(&Success { success: true, data })
            .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("serializing response")))?;
        Ok(Reply { status, body, headers: Vec::new() })
    }

    pub fn ok<T: Serialize>(data: &T) -> Result<Reply, ApiError> {
        Self::with_status(StatusCode::OK, data)
    }

    pub fn created<T: Serialize>(data: &T) -> Result<Reply, ApiError> {
        Self::with_status(StatusCode::CREATED, data)
    }

    /// A stored response replayed as it was first sent.
    pub fn raw(status: StatusCode, body: Vec<u8>) -> Reply {
        Reply { status, body, headers: Vec::new() }
    }

    pub fn body(&self) -> &[u8] {
        &self.body
    }

    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// When the client should ask again, in seconds (at least 1).
    pub fn retry_after(self, seconds: u64) -> Self {
        self.header(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)))
    }

    pub fn cache_control(self, policy: &'static str) -> Self {
        self.header(header::CACHE_CONTROL, HeaderValue::from_static(policy))
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Tags the body with an `ETag` (a hash of its bytes) and answers `304
    /// Not Modified` with no body when the client already has it
    /// (`If-None-Match`). A client polling a resource that has not changed
    /// then costs a few bytes on the wire instead of the whole document.
    pub fn conditional(mut self, req: &Request) -> Self {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(&self.body);
        let tag = format!("\"{}\"", hex::encode(&digest[..8]));
        let unchanged = req
            .headers()
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|candidate| candidate.trim().trim_start_matches("W/") == tag || candidate.trim() == "*");
        if unchanged {
            self.status = StatusCode::NOT_MODIFIED;
            self.body.clear();
        }
        match HeaderValue::from_str(&tag) {
            Ok(value) => self.header(header::ETAG, value),
            Err(_) => self,
        }
    }
}

/// Turns a handler result into the HTTP response; the only place where
/// errors become bodies, and where unexpected errors are logged.
pub fn respond(result: Result<Reply, ApiError>) -> Response<Body> {
    match result {
        Ok(reply) => {
            let mut response = json_response(reply.status, reply.body);
            response.headers_mut().extend(reply.headers);
            response
        }
        Err(err) => error_response(&err),
    }
}

/// The JSON body of an error, as every error response carries it.
pub fn error_body(err: &ApiError) -> serde_json::Value {
    let mut error = serde_json::json!({ "code": err.code(), "message": err.public_message() });
    if let Some(details) = err.details() {
        error["details"] = details;
    }
    serde_json::json!({ "success": false, "error": error })
}

pub fn error_response(err: &ApiError) -> Response<Body> {
    let status = err.status();
    if status.is_server_error() {
        tracing::error!(error.code = err.code(), error.message = %err, error.cause_chain = ?err, "request failed");
    } else {
        tracing::info!(error.code = err.code(), error.message = %err, status = status.as_u16(), "request rejected");
    }
    let body = serde_json::to_vec(&error_body(err)).expect("a json! value always serializes");
    let mut response = json_response(status, body);
    if let ApiError::TooManyRequests { retry_after } = err {
        let seconds = retry_after.as_secs().max(1);
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response<Body> {
    let mut response = Response::new(Body::Text(String::from_utf8(body).expect("serde_json writes UTF-8")));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// The raw request body, refused above `limit` bytes.
pub fn body_bytes(req: &Request, limit: usize) -> Result<&[u8], ApiError> {
    let bytes: &[u8] = req.body().as_ref();
    if bytes.len() > limit {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    Ok(bytes)
}

/// Parses a JSON body into `T`. Syntax errors are 400 BAD_REQUEST; a value of
/// the wrong shape is a 400 VALIDATION_ERROR naming the field's path.
pub fn parse_json<T: DeserializeOwned>(req: &Request, limit: usize) -> Result<T, ApiError> {
    let bytes = body_bytes(req, limit)?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest("A JSON request body is required".into()));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        match inner.classify() {
            Category::Data => {
                let field = if path == "." || path.is_empty() { "body".to_owned() } else { path };
                ApiError::validation(&field, &describe_data_error(&inner))
            }
            Category::Syntax | Category::Eof | Category::Io => malformed(&inner),
        }
    })?;
    deserializer.end().map_err(|e| malformed(&e))?;
    Ok(parsed)
}

fn malformed(err: &serde_json::Error) -> ApiError {
    ApiError::BadRequest(format!("Malformed JSON body: {err}"))
}

/// serde's message without the "at line 1 column 9" suffix (meaningless
/// for a one-line body) and without the offending value, which could be
/// megabytes long and is the client's own input anyway.
fn describe_data_error(err: &serde_json::Error) -> String {
    let text = err.to_string();
    let text = match text.rfind(" at line ") {
        Some(idx) => &text[..idx],
        None => &text,
    };
    let expected = text.rfind(", expected ").map(|idx| &text[idx + 2..]);
    match expected {
        Some(expected) if text.starts_with("invalid type") => format!("has the wrong type: {expected}"),
        Some(expected) if text.starts_with("invalid value") || text.starts_with("invalid length") => {
            format!("is not valid: {expected}")
        }
        _ => text.to_owned(),
    }
}

/// The `Idempotency-Key` header, if sent: 1 to 255 visible ASCII characters.
pub fn idempotency_key(req: &Request) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get("idempotency-key") else {
        return Ok(None);
    };
    let key = value.to_str().map(str::trim).unwrap_or_default();
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::validation("Idempotency-Key", "must be 1 to 255 visible ASCII characters"));
    }
    Ok(Some(key.to_owned()))
}

/// A path parameter that the route template guarantees; a missing one means
/// the route table and handler disagree, so it is a 404, not a panic.
pub fn path_param(req: &Request, name: &str) -> Result<String, ApiError> {
    req.path_parameters_ref()
        .and_then(|params| params.first(name))
        .map(str::to_owned)
        .ok_or_else(|| ApiError::NotFound("Route not found".into()))
}

/// The single value of a query parameter, if present and non-empty.
pub fn query_param(req: &Request, name: &str) -> Option<String> {
    req.query_string_parameters_ref()
        .and_then(|params| params.first(name))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// The header CloudFront adds to every request it sends the API origin, with
/// a secret value (template.yaml, `OriginVerifySecret`): proof that the
/// request came through the distribution, so its viewer address is
/// CloudFront's word, not the caller's.
pub const ORIGIN_VERIFY_HEADER: &str = "x-origin-verify";

/// The viewer's address and port as CloudFront saw them: `ip:port`, with an
/// IPv6 address unbracketed (`2001:db8::1:443`). Anyone can send it; only
/// a request that also carries the origin secret is believed.
pub const VIEWER_ADDRESS_HEADER: &str = "cloudfront-viewer-address";

/// The caller's address, to key per-address limits on: the fan's address
/// from `CloudFront-Viewer-Address` when the request proves it came through
/// CloudFront (one of `origin_secrets` in [`ORIGIN_VERIFY_HEADER`]), else
/// the address API Gateway saw (`requestContext.http.sourceIp`; the local
/// gateway fills it from the connection): a direct call to the API, or a
/// forged viewer address, counts against the address that really connected.
/// An IPv6 address counts as its /64, the block one subscriber is given, so
/// a client cannot dodge a limit by walking its own block.
pub fn client_ip(req: &Request, origin_secrets: &[crate::config::Secret]) -> String {
    let address = viewer_address(req, origin_secrets).or_else(|| match req.request_context_ref() {
        Some(lambda_http::request::RequestContext::ApiGatewayV2(context)) => {
            context.http.source_ip.as_deref().and_then(|ip| ip.parse().ok())
        }
        _ => None,
    });
    match address {
        Some(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Some(std::net::IpAddr::V6(v6)) => v6.to_ipv4_mapped().map_or_else(String::new, |v4| v4.to_string()),
        Some(ip) => ip.to_string(),
        None => "unknown".to_owned(),
    }
}

fn viewer_address(req: &Request, origin_secrets: &[crate::config::Secret]) -> Option<std::net::IpAddr> {
    let single = |name: &str| {
        let mut values = req.headers().get_all(name).iter();
        let value = values.next()?;
        values.next().is_none().then_some(value)
    };
    let presented = single(ORIGIN_VERIFY_HEADER)?.as_bytes();
    // Every secret is compared, each in constant time, so the answer's
    // timing tells nothing about which bytes matched.
    let trusted =
        origin_secrets.iter().fold(false, |found, secret| found | same_secret(secret.expose().as_bytes(), presented));
    if !trusted {
        return None;
    }
    parse_viewer_address(single(VIEWER_ADDRESS_HEADER)?.to_str().ok()?)
}

/// Equal in time that depends on neither value: both are hashed first (so
/// their lengths do not show either), then every byte is compared.
fn same_secret(expected: &[u8], presented: &[u8]) -> bool {
    use sha2::{Digest, Sha256};
    let (a, b) = (Sha256::digest(expected), Sha256::digest(presented));
    a.iter().zip(b.iter()).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// `ip:port` → ip. The port is after the last colon; what is before it is
/// an IPv4 or an (unbracketed, or bracketed) IPv6 address.
fn parse_viewer_address(value: &str) -> Option<std::net::IpAddr> {
    let (ip, port) = value.trim().rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    let ip = ip.strip_prefix('[').and_then(|ip| ip.strip_suffix(']')).unwrap_or(ip);
    ip.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Sample {
        #[allow(dead_code)]
        email: Option<String>,
        #[allow(dead_code)]
        count: Option<u32>,
    }

    fn request(body: &str) -> Request {
        Request::new(Body::Text(body.to_owned()))
    }

    async fn body_json(response: Response<Body>) -> serde_json::Value {
        serde_json::from_slice(response.body().as_ref()).unwrap()
    }

    #[test]
    fn an_unchanged_body_answers_304_with_its_etag_and_a_changed_one_the_body() {
        let first = Reply::ok(&serde_json::json!({ "seats": 1 })).unwrap().conditional(&request(""));
        let tag = first.headers.iter().find(|(n, _)| n == header::ETAG).unwrap().1.clone();
        assert_eq!((first.status, first.body.is_empty()), (StatusCode::OK, false));

        let mut again = request("");
        again.headers_mut().insert(header::IF_NONE_MATCH, tag.clone());
        let unchanged = Reply::ok(&serde_json::json!({ "seats": 1 })).unwrap().conditional(&again);
        assert_eq!((unchanged.status, unchanged.body.is_empty()), (StatusCode::NOT_MODIFIED, true));
        assert!(unchanged.headers.iter().any(|(n, v)| n == header::ETAG && *v == tag));

        let changed = Reply::ok(&serde_json::json!({ "seats": 2 })).unwrap().conditional(&again);
        assert_eq!((changed.status, changed.body.is_empty()), (StatusCode::OK, false));
    }

    const ORIGIN: &str = "origin-secret-of-at-least-thirty-two-bytes";

    fn from(source_ip: &str, headers: &[(&str, &str)]) -> Request {
        use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
        let mut context = ApiGatewayV2httpRequestContext::default();
        context.http.source_ip = Some(source_ip.to_owned());
        let mut req = request("").with_request_context(lambda_http::request::RequestContext::ApiGatewayV2(context));
        for (name, value) in headers {
            req.headers_mut().append(HeaderName::from_bytes(name.as_bytes()).unwrap(), value.parse().unwrap());
        }
        req
    }

    fn secrets(values: &[&str]) -> Vec<crate::config::Secret> {
        values.iter().map(|v| crate::config::Secret::new(*v)).collect()
    }

    #[test]
    fn behind_cloudfront_the_viewer_address_counts_ipv4_and_ipv6() {
        let trusted = secrets(&[ORIGIN]);
        let via =
            |viewer: &str| from("130.176.0.1", &[(ORIGIN_VERIFY_HEADER, ORIGIN), (VIEWER_ADDRESS_HEADER, viewer)]);
        assert_eq!(client_ip(&via("198.51.100.7:46532"), &trusted), "198.51.100.7");
        assert_eq!(client_ip(&via("2001:db8:85a3:7:8a2e:370:7334:1:443"), &trusted), "2001:db8:85a3:7::/64");
        assert_eq!(client_ip(&via("[2001:db8::1]:443"), &trusted), "2001:db8:0:0::/64");
        assert_eq!(client_ip(&via("::ffff:198.51.100.7:443"), &trusted), "198.51.100.7");
        // Garbage from CloudFront's side falls back to the connection.
        for bad in ["198.51.100.7", "198.51.100.7:port", "not-an-ip:443", ""] {
            assert_eq!(client_ip(&via(bad), &trusted), "130.176.0.1", "{bad}");
        }
    }

    #[test]
    fn a_viewer_address_without_the_origin_secret_is_ignored() {
        let trusted = secrets(&[ORIGIN]);
        let forged = [(VIEWER_ADDRESS_HEADER, "203.0.113.9:1234")];
        assert_eq!(client_ip(&from("192.0.2.10", &forged), &trusted), "192.0.2.10", "no secret header");
        let wrong = [(ORIGIN_VERIFY_HEADER, "a-guess-of-at-least-thirty-two-bytes-long"), forged[0]];
        assert_eq!(client_ip(&from("192.0.2.10", &wrong), &trusted), "192.0.2.10", "wrong secret");
        let prefix = [(ORIGIN_VERIFY_HEADER, &ORIGIN[..20]), forged[0]];
        assert_eq!(client_ip(&from("192.0.2.10", &prefix), &trusted), "192.0.2.10", "a prefix of the secret");
        let doubled = [(ORIGIN_VERIFY_HEADER, ORIGIN), forged[0], (VIEWER_ADDRESS_HEADER, "198.51.100.1:1")];
        assert_eq!(client_ip(&from("192.0.2.10", &doubled), &trusted), "192.0.2.10", "two viewer addresses");
        // No secret configured (direct calls, the local gateway): never trusted.
        let right = [(ORIGIN_VERIFY_HEADER, ORIGIN), forged[0]];
        assert_eq!(client_ip(&from("192.0.2.10", &right), &[]), "192.0.2.10");
        assert_eq!(client_ip(&from("2001:db8:1:2:3:4:5:6", &[]), &[]), "2001:db8:1:2::/64");
    }

    #[test]
    fn during_a_rotation_the_previous_origin_secret_still_counts() {
        let rotated = secrets(&["the-new-origin-secret-of-32-bytes-or-more", ORIGIN]);
        let req = from("130.176.0.1", &[(ORIGIN_VERIFY_HEADER, ORIGIN), (VIEWER_ADDRESS_HEADER, "198.51.100.7:1")]);
        assert_eq!(client_ip(&req, &rotated), "198.51.100.7");
    }

    #[test]
    fn malformed_json_is_a_bad_request() {
        let err = parse_json::<Sample>(&request("{\"email\":"), 1024).unwrap_err();
        assert_eq!(err.code(), "BAD_REQUEST");
        let err = parse_json::<Sample>(&request("{} trailing"), 1024).unwrap_err();
        assert_eq!(err.code(), "BAD_REQUEST");
        let err = parse_json::<Sample>(&request("  "), 1024).unwrap_err();
        assert_eq!(err.code(), "BAD_REQUEST");
    }

    #[test]
    fn wrong_types_name_the_field() {
        let err = parse_json::<Sample>(&request(r#"{"email": 5}"#), 1024).unwrap_err();
        let details = err.details().unwrap();
        assert_eq!(details["fields"]["email"], "has the wrong type: expected a string", "{details}");
        let err = parse_json::<Sample>(&request(r#"{"count": -1}"#), 1024).unwrap_err();
        assert!(err.details().unwrap()["fields"].get("count").is_some());
        let err = parse_json::<Sample>(&request("[]"), 1024).unwrap_err();
        assert!(err.details().unwrap()["fields"].get("body").is_some());
    }

    #[test]
    fn bodies_over_the_limit_are_refused() {
        let err = parse_json::<Sample>(&request(&"x".repeat(11)), 10).unwrap_err();
        assert_eq!(err.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[tokio::test]
    async fn errors_use_the_envelope_and_retry_after() {
        let response = error_response(&ApiError::TooManyRequests { retry_after: std::time::Duration::from_secs(42) });
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()[header::RETRY_AFTER], "42");
        let body = body_json(response).await;
        assert_eq!(body["success"], false);
        assert_eq!(body["error"]["code"], "TOO_MANY_REQUESTS");
    }

    #[tokio::test]
    async fn internal_errors_do_not_leak_details() {
        let response = error_response(&ApiError::Internal(anyhow::anyhow!("relation users does not exist")));
        assert_eq!(response.status(), 500);
        let text = String::from_utf8(response.body().to_vec()).unwrap();
        assert!(!text.contains("relation"), "{text}");
    }

    #[tokio::test]
    async fn success_uses_the_envelope() {
        let response = respond(Reply::created(&serde_json::json!({"id": 1})));
        assert_eq!(response.status(), 201);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        let body = body_json(response).await;
        assert_eq!(body, serde_json::json!({"success": true, "data": {"id": 1}}));
    }
}
