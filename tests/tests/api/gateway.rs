//! Over real HTTP, through the local gateway on a free port.

use futures::future::join_all;
use serde_json::{json, Value};

use crate::common::{gateway_url, http_client, run, unique_email};

#[test]
fn register_and_login_over_http() {
    run(async {
        let base = gateway_url().await;
        let client = http_client();
        let email = unique_email("http");
        let response = client
            .post(format!("{base}/auth/register"))
            .json(&json!({ "email": email, "name": "Grace", "password": "hopper-1906" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
        assert!(response.headers().contains_key("apigw-requestid"));
        let response = client
            .post(format!("{base}/auth/login"))
            .json(&json!({ "email": email, "password": "hopper-1906" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/json");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["success"], true);
        assert_eq!(body["data"]["user"]["email"], email);
        assert!(body["data"]["token"].as_str().unwrap().split('.').count() == 3);
    });
}

#[test]
fn the_gateway_refuses_bodies_over_one_mebibyte_with_a_413() {
    run(async {
        let base = gateway_url().await;
        let response = http_client()
            .post(format!("{base}/auth/register"))
            .header("content-type", "application/json")
            .body(vec![b' '; 1024 * 1024 + 1])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 413);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "PAYLOAD_TOO_LARGE");
    });
}

#[test]
fn unknown_routes_and_methods_get_json_errors() {
    run(async {
        let base = gateway_url().await;
        let client = http_client();
        let response = client.get(format!("{base}/no/such/route")).send().await.unwrap();
        assert_eq!(response.status(), 404);
        assert_eq!(response.json::<Value>().await.unwrap()["success"], false);
        let response = client.delete(format!("{base}/auth/login")).send().await.unwrap();
        assert_eq!(response.status(), 405);
        assert_eq!(response.headers()["allow"], "POST");
        assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "METHOD_NOT_ALLOWED");
    });
}

/// The template's CorsConfiguration, as API Gateway applies it: the gateway
/// answers a preflight itself (204, on any path, no function runs) and adds
/// the allowed origin to real responses; other origins get no CORS headers.
#[test]
fn cors_preflights_and_responses_follow_the_templates_configuration() {
    run(async {
        let base = gateway_url().await;
        let client = http_client();
        let preflight = |origin: &'static str, method: &'static str| {
            client
                .request(reqwest::Method::OPTIONS, format!("{base}/bookings"))
                .header("origin", origin)
                .header("access-control-request-method", method)
                .header("access-control-request-headers", "authorization,content-type")
                .send()
        };
        let allowed = preflight("http://localhost:3001", "POST").await.unwrap();
        assert_eq!(allowed.status(), 204);
        assert_eq!(allowed.headers()["access-control-allow-origin"], "http://localhost:3001");
        assert_eq!(allowed.headers()["access-control-allow-methods"], "GET,POST,PUT,OPTIONS");
        assert_eq!(allowed.headers()["access-control-allow-headers"], "authorization,content-type,idempotency-key");
        assert_eq!(allowed.headers()["access-control-max-age"], "600");

        let stranger = preflight("https://evil.example", "POST").await.unwrap();
        assert_eq!(stranger.status(), 204);
        assert!(stranger.headers().get("access-control-allow-origin").is_none());

        let events =
            client.get(format!("{base}/events")).header("origin", "http://localhost:3001").send().await.unwrap();
        assert_eq!(events.status(), 200);
        assert_eq!(events.headers()["access-control-allow-origin"], "http://localhost:3001");
        let events =
            client.get(format!("{base}/events")).header("origin", "https://evil.example").send().await.unwrap();
        assert!(events.headers().get("access-control-allow-origin").is_none());
        // A plain OPTIONS (no preflight headers) is an ordinary request: 405.
        let plain = client.request(reqwest::Method::OPTIONS, format!("{base}/bookings")).send().await.unwrap();
        assert_eq!(plain.status(), 405);
    });
}

#[test]
fn five_hundred_concurrent_requests_all_succeed() {
    run(async {
        let base = gateway_url().await;
        let client = http_client();
        let requests = (0..500).map(|i| {
            let client = client.clone();
            let url = format!("{base}/auth/register");
            tokio::spawn(async move {
                let body =
                    json!({ "email": unique_email(&format!("c{i}")), "name": "Load", "password": "load-test-pw" });
                client.post(url).json(&body).send().await.map(|r| r.status().as_u16())
            })
        });
        let outcomes: Vec<_> = join_all(requests).await.into_iter().map(Result::unwrap).collect();
        let errors: Vec<_> = outcomes.iter().filter(|o| !matches!(o, Ok(202))).collect();
        assert!(errors.is_empty(), "{} of 500 failed: {:?}", errors.len(), &errors[..errors.len().min(5)]);
    });
}
