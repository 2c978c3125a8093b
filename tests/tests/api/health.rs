use shared::domain::user::Role;

use crate::common::{api_request, read, run, send, state, state_with, token_for, State};

fn admin_health(state: &State) -> lambda_http::Request {
    let admin = token_for(state, uuid::Uuid::new_v4(), Role::Admin);
    api_request("GET", "/health", None, &[("authorization", &admin)])
}

#[test]
fn health_reports_every_datastore_and_the_broker() {
    run(async {
        let state = state().await;
        let (status, body) = read(send(&state, admin_health(&state)).await);
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
        let (status, body) = read(send(&state, admin_health(&state)).await);
        assert_eq!(status, 503, "{body}");
        let checks = body["data"]["checks"].as_array().unwrap();
        let redis = checks.iter().find(|c| c["name"] == "redis").unwrap();
        assert_eq!(redis["status"], "down");
        assert_eq!(redis["error"], "unreachable", "no driver detail leaks: {redis}");
        let postgres = checks.iter().find(|c| c["name"] == "postgres").unwrap();
        assert_eq!(postgres["status"], "up");
    });
}

#[test]
fn anonymous_and_user_callers_learn_only_up_or_down() {
    run(async {
        let state = state_with(|c| c.redis_url = shared::config::Secret::new("redis://127.0.0.1:1/0")).await;
        let user = token_for(&state, uuid::Uuid::new_v4(), Role::User);
        for headers in [vec![], vec![("authorization", user.as_str())]] {
            let (status, body) = read(send(&state, api_request("GET", "/health", None, &headers)).await);
            assert_eq!(status, 503, "{body}");
            assert_eq!(body["data"], serde_json::json!({ "status": "down" }), "no per-store detail: {body}");
        }
    });
}

#[test]
fn a_broker_without_our_topics_is_reported_down() {
    run(async {
        // Topics of a prefix nobody created: the broker answers, the topics are not there.
        let state = state_with(|c| c.topic_prefix = format!("never.{}.", uuid::Uuid::new_v4().simple())).await;
        let (status, body) = read(send(&state, admin_health(&state)).await);
        assert_eq!(status, 503, "{body}");
        let kafka = body["data"]["checks"].as_array().unwrap().iter().find(|c| c["name"] == "kafka").unwrap().clone();
        assert_eq!(kafka["status"], "down", "{kafka}");
        // Every topic and its dead-letter topic.
        let all = 2 * shared::kafka::TOPICS.len();
        assert_eq!(kafka["error"], format!("{all} of {all} topics missing"), "{kafka}");
    });
}
