use crate::common::{api_request, read, run, state, state_with};

#[test]
fn health_reports_every_datastore_and_the_broker() {
    run(async {
        let state = state().await;
        let (status, body) = read(health::handle(&state, api_request("GET", "/health", None, &[])).await.unwrap());
        assert_eq!(status, 200, "{body}");
        let checks = body["data"]["checks"].as_array().unwrap();
        let names: Vec<&str> = checks.iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["postgres", "redis", "mongo", "kafka"]);
        for check in checks {
            assert_eq!(check["status"], "up", "{check}");
            assert!(check["latencyMs"].as_f64().unwrap() >= 0.0);
        }
    });
}

#[test]
fn health_is_a_503_naming_the_store_that_is_down() {
    run(async {
        // Nothing listens on port 1.
        let state = state_with(|c| c.redis_url = shared::config::Secret::new("redis://127.0.0.1:1/0")).await;
        let (status, body) = read(health::handle(&state, api_request("GET", "/health", None, &[])).await.unwrap());
        assert_eq!(status, 503, "{body}");
        let checks = body["data"]["checks"].as_array().unwrap();
        let redis = checks.iter().find(|c| c["name"] == "redis").unwrap();
        assert_eq!(redis["status"], "down");
        assert_eq!(redis["error"], "unreachable", "no driver detail leaks: {redis}");
        let postgres = checks.iter().find(|c| c["name"] == "postgres").unwrap();
        assert_eq!(postgres["status"], "up");
    });
}
