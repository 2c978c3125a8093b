//! The HTTP API's CorsConfiguration from template.yaml, applied the way API
//! Gateway applies it: a preflight (`OPTIONS` with `Origin` and
//! `Access-Control-Request-Method`) is answered by the gateway itself with
//! 204, on any path, without invoking a function; every other response to
//! an allowed origin gets `Access-Control-Allow-Origin` (and the exposed
//! headers), whatever CORS headers the function set itself.
//!
//! `AllowOrigins` is a template parameter (`AllowedOrigins`) with no default,
//! so that no deploy is open to every site by accident; locally its value
//! comes from `ALLOWED_ORIGINS` (comma-separated), by default the web app on
//! :3000 and a front-end dev server on :3001.

use http::{header, HeaderMap, HeaderValue, Method};
use serde_yaml::Value;

pub const LOCAL_ALLOWED_ORIGINS: &str =
    "http://localhost:3000,http://127.0.0.1:3000,http://localhost:3001,http://127.0.0.1:3001";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cors {
    pub allow_origins: Vec<String>,
    pub allow_methods: Vec<String>,
    pub allow_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub max_age: Option<u64>,
    pub allow_credentials: bool,
}

impl Cors {
    /// The HttpApi's CorsConfiguration; `None` if the template has none.
    /// `parameter` resolves a `!Ref` to a template parameter.
    pub fn from_template(template: &str, parameter: impl Fn(&str) -> Option<String>) -> anyhow::Result<Option<Cors>> {
        let doc: Value = serde_yaml::from_str(template)?;
        let Some(resources) = doc.get("Resources").and_then(Value::as_mapping) else { return Ok(None) };
        let config = resources
            .values()
            .filter(|r| r.get("Type").and_then(Value::as_str) == Some("AWS::Serverless::HttpApi"))
            .find_map(|r| r.get("Properties")?.get("CorsConfiguration").cloned());
        let Some(config) = config else { return Ok(None) };
        let list = |key: &str| -> anyhow::Result<Vec<String>> {
            match config.get(key) {
                None => Ok(Vec::new()),
                Some(Value::Sequence(items)) => Ok(items.iter().filter_map(Value::as_str).map(str::to_owned).collect()),
                Some(Value::Tagged(tagged)) if tagged.tag == "!Ref" => {
                    let name = tagged.value.as_str().unwrap_or_default();
                    let value = parameter(name).ok_or_else(|| {
                        anyhow::anyhow!("CorsConfiguration.{key} refers to {name}, which has no value")
                    })?;
                    Ok(value.split(',').map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned).collect())
                }
                Some(other) => anyhow::bail!("CorsConfiguration.{key} is not a list: {other:?}"),
            }
        };
        Ok(Some(Cors {
            allow_origins: list("AllowOrigins")?,
            allow_methods: list("AllowMethods")?,
            allow_headers: list("AllowHeaders")?,
            expose_headers: list("ExposeHeaders")?,
            max_age: config.get("MaxAge").and_then(Value::as_u64),
            allow_credentials: config.get("AllowCredentials").and_then(Value::as_bool).unwrap_or(false),
        }))
    }

    /// The value of `Access-Control-Allow-Origin` for a request's `Origin`,
    /// if that origin is allowed.
    fn allowed_origin(&self, headers: &HeaderMap) -> Option<HeaderValue> {
        let origin = headers.get(header::ORIGIN)?.to_str().ok()?;
        if self.allow_origins.iter().any(|o| o == "*") && !self.allow_credentials {
            return Some(HeaderValue::from_static("*"));
        }
        self.allow_origins.iter().any(|o| o.eq_ignore_ascii_case(origin)).then(|| HeaderValue::from_str(origin).ok())?
    }

    /// Whether the request is a CORS preflight, which the gateway answers.
    pub fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
        method == Method::OPTIONS
            && headers.contains_key(header::ORIGIN)
            && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    }

    /// The headers of the gateway's 204 answer to a preflight. An origin,
    /// method or header outside the configuration gets no CORS headers, so
    /// the browser refuses the real request.
    pub fn preflight_headers(&self, headers: &HeaderMap) -> HeaderMap {
        let mut out = HeaderMap::new();
        let Some(origin) = self.allowed_origin(headers) else { return out };
        let method = headers.get(header::ACCESS_CONTROL_REQUEST_METHOD).and_then(|v| v.to_str().ok()).unwrap_or("");
        if !self.allow_methods.iter().any(|m| m == "*" || m.eq_ignore_ascii_case(method)) {
            return out;
        }
        let requested = headers.get(header::ACCESS_CONTROL_REQUEST_HEADERS).and_then(|v| v.to_str().ok()).unwrap_or("");
        let all_allowed = requested
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .all(|h| self.allow_headers.iter().any(|allowed| allowed == "*" || allowed.eq_ignore_ascii_case(h)));
        if !all_allowed {
            return out;
        }
        out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        let join = |items: &[String]| HeaderValue::from_str(&items.join(",")).ok();
        if let Some(methods) = join(&self.allow_methods) {
            out.insert(header::ACCESS_CONTROL_ALLOW_METHODS, methods);
        }
        if let Some(allowed) = join(&self.allow_headers).filter(|_| !self.allow_headers.is_empty()) {
            out.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, allowed);
        }
        if let Some(age) = self.max_age {
            out.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(age));
        }
        self.common(&mut out);
        out
    }

    /// Sets the CORS headers of an ordinary response, replacing any the
    /// function set: API Gateway ignores a function's own CORS headers when
    /// the API has a CorsConfiguration.
    pub fn apply(&self, request: &HeaderMap, response: &mut HeaderMap) {
        for name in [
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            header::ACCESS_CONTROL_ALLOW_METHODS,
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            header::ACCESS_CONTROL_MAX_AGE,
        ] {
            response.remove(name);
        }
        let Some(origin) = self.allowed_origin(request) else { return };
        response.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        if !self.expose_headers.is_empty() {
            if let Ok(exposed) = HeaderValue::from_str(&self.expose_headers.join(",")) {
                response.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, exposed);
            }
        }
        self.common(response);
    }

    fn common(&self, out: &mut HeaderMap) {
        if self.allow_credentials {
            out.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
        }
        if !self.allow_origins.iter().any(|o| o == "*") {
            out.append(header::VARY, HeaderValue::from_static("Origin"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cors() -> Cors {
        let template = r#"
Resources:
  HttpApi:
    Type: AWS::Serverless::HttpApi
    Properties:
      CorsConfiguration:
        AllowOrigins: !Ref AllowedOrigins
        AllowMethods: [GET, POST, PUT, OPTIONS]
        AllowHeaders: [authorization, content-type, idempotency-key]
        MaxAge: 600
"#;
        Cors::from_template(template, |name| {
            (name == "AllowedOrigins").then(|| "https://shop.example, http://localhost:3001".into())
        })
        .unwrap()
        .unwrap()
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (http::HeaderName::from_static(k), HeaderValue::from_static(v))).collect()
    }

    #[test]
    fn the_template_configuration_is_read_with_its_parameter() {
        let cors = cors();
        assert_eq!(cors.allow_origins, ["https://shop.example", "http://localhost:3001"]);
        assert_eq!(cors.allow_methods, ["GET", "POST", "PUT", "OPTIONS"]);
        assert_eq!(cors.max_age, Some(600));
        assert!(Cors::from_template("Resources: {}", |_| None).unwrap().is_none());
        let unresolved = Cors::from_template(
            "Resources:\n  A:\n    Type: AWS::Serverless::HttpApi\n    Properties:\n      CorsConfiguration:\n        AllowOrigins: !Ref Nope\n",
            |_| None,
        );
        assert!(unresolved.is_err());
    }

    #[test]
    fn a_preflight_from_an_allowed_origin_gets_the_configured_answer() {
        let request = headers(&[
            ("origin", "http://localhost:3001"),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "Content-Type, Authorization"),
        ]);
        assert!(Cors::is_preflight(&Method::OPTIONS, &request));
        let answer = cors().preflight_headers(&request);
        assert_eq!(answer["access-control-allow-origin"], "http://localhost:3001");
        assert_eq!(answer["access-control-allow-methods"], "GET,POST,PUT,OPTIONS");
        assert_eq!(answer["access-control-allow-headers"], "authorization,content-type,idempotency-key");
        assert_eq!(answer["access-control-max-age"], "600");
        assert_eq!(answer["vary"], "Origin");
    }

    #[test]
    fn a_preflight_outside_the_configuration_gets_no_cors_headers() {
        for request in [
            headers(&[("origin", "https://evil.example"), ("access-control-request-method", "POST")]),
            headers(&[("origin", "http://localhost:3001"), ("access-control-request-method", "DELETE")]),
            headers(&[
                ("origin", "http://localhost:3001"),
                ("access-control-request-method", "GET"),
                ("access-control-request-headers", "x-secret"),
            ]),
        ] {
            assert!(cors().preflight_headers(&request).is_empty(), "{request:?}");
        }
        assert!(!Cors::is_preflight(&Method::OPTIONS, &headers(&[("origin", "https://shop.example")])));
    }

    #[test]
    fn ordinary_responses_carry_the_origin_only_when_allowed_and_never_the_functions_own() {
        let mut response = headers(&[("access-control-allow-origin", "*")]);
        cors().apply(&headers(&[("origin", "https://shop.example")]), &mut response);
        assert_eq!(response["access-control-allow-origin"], "https://shop.example");
        let mut response = headers(&[("access-control-allow-origin", "*")]);
        cors().apply(&headers(&[("origin", "https://evil.example")]), &mut response);
        assert!(response.get("access-control-allow-origin").is_none());
    }
}
