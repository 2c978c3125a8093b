//! Shared by every test in this binary: one runtime, one `State` (so one
//! Mongo client and one Postgres pool per process, as MONGO.md asks), one
//! gateway on a free port, and helpers to build real API Gateway v2 requests.

use std::{
    collections::HashMap,
    future::Future,
    sync::{Arc, LazyLock},
};

use lambda_http::{Body, Request, Response};
use serde_json::Value;
use shared::config::Config;
pub use shared::State;
use tokio::{runtime::Runtime, sync::OnceCell};

static RUNTIME: LazyLock<Runtime> =
    LazyLock::new(|| tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime"));

/// Runs a test body on the shared runtime. Pools are tied to the runtime that
/// created them, so every test uses this one instead of `#[tokio::test]`.
pub fn run<F: Future>(test: F) -> F::Output {
    RUNTIME.block_on(test)
}

/// Topics of this test process only: consumer groups start fresh (no wait
/// for the members a killed earlier run left behind) and no run reads
/// another's messages.
static TOPIC_PREFIX: LazyLock<String> =
    LazyLock::new(|| format!("test.{}.", &uuid::Uuid::new_v4().simple().to_string()[..12]));

/// The environment with test defaults (tests/test.env, which `make test`
/// reads too) under anything set already, and a topic prefix of this
/// process's own.
pub fn test_vars() -> HashMap<String, String> {
    let mut vars: HashMap<String, String> = std::env::vars().collect();
    vars.insert("TOPIC_PREFIX".to_owned(), TOPIC_PREFIX.clone());
    let defaults = include_str!("../../test.env").lines().filter(|line| !line.starts_with('#'));
    for (key, value) in defaults.filter_map(|line| line.split_once('=')) {
        vars.entry(key.to_owned()).or_insert_with(|| value.to_owned());
    }
    vars
}

pub fn test_config() -> Config {
    Config::from_map(&test_vars()).expect("test configuration")
}

static STATE: OnceCell<Arc<State>> = OnceCell::const_new();

/// The migrated test state, made once per test process.
pub async fn state() -> Arc<State> {
    STATE
        .get_or_init(|| async {
            // Quiet by default; TEST_LOG=1 shows the JSON logs.
            if std::env::var_os("TEST_LOG").is_some() {
                shared::telemetry::init();
            }
            let config = test_config();
            shared::scratch::ensure_database(&config).await.expect("create test database");
            let state = State::new(config).await.expect("test state");
            shared::setup::migrate(&state).await.expect("migrate test database");
            shared::setup::create_topics(&state.config).await.expect("create test topics");
            Arc::new(state)
        })
        .await
        .clone()
}

/// A state with a different configuration, sharing nothing with `state()`.
pub async fn state_with(change: impl FnOnce(&mut Config)) -> State {
    let _ = state().await; // the database exists and is migrated
    let mut config = test_config();
    change(&mut config);
    State::new(config).await.expect("custom test state")
}

/// A state whose messages only its test reads: with the suite's topics, the
/// suite's consumers (running in the shared gateway) would act on them too.
pub async fn isolated(change: impl FnOnce(&mut Config)) -> State {
    let state = state_with(|c| {
        c.topic_prefix = format!("own.{}.", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        change(c);
    })
    .await;
    shared::setup::create_topics(&state.config).await.expect("topics of an isolated test");
    state
}

static GATEWAY: OnceCell<String> = OnceCell::const_new();

/// Base URL of a local gateway serving template.yaml on a free port.
pub async fn gateway_url() -> String {
    GATEWAY
        .get_or_init(|| async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind gateway");
            let addr = listener.local_addr().unwrap();
            let state = state().await;
            tokio::spawn(async move {
                local_gateway::start(&local_gateway::default_template(), state, listener).await.expect("gateway");
            });
            format!("http://{addr}")
        })
        .await
        .clone()
}

/// The API as a client meets it: over HTTP through the suite's gateway
/// (free port, the suite's state, Kafka consumers and sweeper running).
#[derive(Clone)]
pub struct TestApp {
    pub base: String,
    client: reqwest::Client,
}

impl TestApp {
    pub async fn new() -> TestApp {
        TestApp { base: gateway_url().await, client: http_client() }
    }

    /// A request to `path`, for anything `call` does not set.
    pub fn request(&self, method: &str, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method.parse().expect("an HTTP method"), format!("{}{path}", self.base))
    }

    /// `method path` as `token`'s holder with a JSON `body`: status and JSON answer.
    pub async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> (u16, Value) {
        self.send(self.request(method, path), token, body).await
    }

    /// `call` with an `Idempotency-Key`.
    pub async fn call_with_key(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        key: &str,
    ) -> (u16, Value) {
        self.send(self.request(method, path).header("idempotency-key", key), token, body).await
    }

    async fn send(
        &self,
        mut request: reqwest::RequestBuilder,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        if let Some(token) = token {
            request = request.header("authorization", token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("the gateway answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Books `labels` of `event` for `token`'s holder.
    pub async fn book(&self, token: &str, event: &str, labels: &[&str]) -> (u16, Value) {
        let seats: Vec<String> = labels.iter().map(|l| format!("{event}_{l}")).collect();
        self.call("POST", "/bookings", Some(token), Some(&serde_json::json!({ "eventId": event, "seatIds": seats })))
            .await
    }

    /// Pays booking `id` with `card`, with an Idempotency-Key if given.
    pub async fn pay(&self, token: &str, id: &str, card: &str, key: Option<&str>) -> (u16, Value) {
        let body = serde_json::json!({ "paymentMethod": { "type": "card", "cardNumber": card } });
        let path = format!("/bookings/{id}/pay");
        match key {
            Some(key) => self.call_with_key("POST", &path, Some(token), Some(&body), key).await,
            None => self.call("POST", &path, Some(token), Some(&body)).await,
        }
    }

    pub async fn cancel(&self, token: &str, id: &str) -> (u16, Value) {
        self.call("PUT", &format!("/bookings/{id}/cancel"), Some(token), None).await
    }
}

pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder().pool_max_idle_per_host(1000).build().expect("http client")
}

pub fn unique_email(label: &str) -> String {
    format!("{label}-{}@example.test", uuid::Uuid::new_v4().simple())
}

/// A real API Gateway v2 event (tests/fixtures) with the method, path, body
/// and headers replaced, parsed exactly as the Lambda runtime parses it.
pub fn api_request(method: &str, path: &str, body: Option<&Value>, headers: &[(&str, &str)]) -> Request {
    let mut event: Value =
        serde_json::from_str(include_str!("../../fixtures/apigw-v2/post-json.json")).expect("fixture is JSON");
    event["routeKey"] = format!("{method} {path}").into();
    event["rawPath"] = path.into();
    event["requestContext"]["http"]["method"] = method.into();
    event["requestContext"]["http"]["path"] = path.into();
    let text = body.map(Value::to_string).unwrap_or_default();
    event["headers"]["content-length"] = text.len().to_string().into();
    event["body"] = text.into();
    for (name, value) in headers {
        event["headers"][name.to_lowercase()] = (*value).into();
    }
    lambda_http::request::from_str(&event.to_string()).expect("valid API Gateway v2 event")
}

/// The same request as sent from `ip` (API Gateway's `sourceIp`).
pub fn from_ip(mut req: Request, ip: &str) -> Request {
    use lambda_http::request::RequestContext;
    match req.extensions_mut().get_mut::<RequestContext>() {
        Some(RequestContext::ApiGatewayV2(context)) => context.http.source_ip = Some(ip.to_owned()),
        _ => panic!("not an API Gateway v2 request"),
    }
    req
}

pub fn raw_body_request(path: &str, body: String) -> Request {
    let mut req = api_request("POST", path, None, &[]);
    *req.body_mut() = Body::Text(body);
    req
}

/// Status and parsed JSON body of a handler response.
pub fn read(response: Response<Body>) -> (u16, Value) {
    let status = response.status().as_u16();
    let body = serde_json::from_slice(response.body().as_ref()).unwrap_or(Value::Null);
    (status, body)
}

pub async fn register(state: &State, email: &str, password: &str) -> (u16, Value) {
    let body = serde_json::json!({ "email": email, "name": "Test User", "password": password });
    call(state, "POST", "/auth/register", None, Some(&body)).await
}

pub async fn login(state: &State, email: &str, password: &str) -> (u16, Value) {
    let body = serde_json::json!({ "email": email, "password": password });
    call(state, "POST", "/auth/login", None, Some(&body)).await
}

/// A token for `user` with `role`. Admin and door-staff calls check the
/// account in the store, so for those roles the account is made (or given
/// the role) first: on a thread and runtime of its own, so this stays a
/// plain function callable anywhere in a test.
pub fn token_for(state: &State, user: uuid::Uuid, role: shared::domain::user::Role) -> String {
    use shared::domain::user::{Role, Tier};
    if role == Role::User {
        return format!(
            "Bearer {}",
            state.jwt.issue(user, "someone@example.test", role, Tier::Regular).expect("token")
        );
    }
    let config = state.config.clone();
    let token = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                runtime.block_on(async {
                    let account_state = State::new(config).await.expect("state for the account");
                    shared::seed::privileged_token(&account_state, user, role).await.expect("privileged account")
                })
            })
            .join()
            .expect("account thread")
    });
    format!("Bearer {token}")
}

/// The route table the gateway serves, from template.yaml.
static ROUTES: LazyLock<local_gateway::routes::Router> = LazyLock::new(|| {
    let template = std::fs::read_to_string(local_gateway::default_template()).expect("template.yaml");
    local_gateway::routes::Router::new(local_gateway::routes::routes(&template).expect("the template's routes"))
});

/// Sends `req` in-process to the function template.yaml routes it to, with
/// the path parameters API Gateway sets: a handler-level call (a state of
/// the test's own, a Lambda request as built) that names a route, as a
/// client does, not a crate.
pub async fn send(state: &State, req: Request) -> Response<Body> {
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let (function, params) = match ROUTES.find(&method, &path) {
        local_gateway::routes::Match::Found { route, params } => (route.function.clone(), params),
        _ => panic!("template.yaml has no route for {method} {path}"),
    };
    let params: HashMap<String, String> = params.into_iter().collect();
    let req = lambda_http::RequestExt::with_path_parameters(req, params);
    local_gateway::dispatch::invoke_http(&function, state, req)
        .await
        .unwrap_or_else(|| panic!("no HTTP function named {function}"))
        .expect("handlers answer every request")
}

/// Delivers `event` to the Kafka consumer `function` in-process, as its MSK
/// event source mapping would: the batch report as JSON (`processed`,
/// `deadLettered`, …), or the error that makes the mapping retry the batch.
pub async fn deliver(
    state: &State,
    function: &str,
    event: aws_lambda_events::event::kafka::KafkaEvent,
) -> Result<Value, lambda_http::Error> {
    local_gateway::dispatch::invoke_kafka(function, state, event)
        .await
        .unwrap_or_else(|| panic!("no Kafka consumer named {function}"))
}

/// `raw` as one path segment, percent-encoded as a client sends it (the
/// gateway decodes path parameters, as API Gateway does).
pub fn segment(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `method path` in-process (see `send`), with `token` as the bearer and
/// `body` as JSON: the status and the JSON answer.
pub async fn call(state: &State, method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> (u16, Value) {
    let headers: Vec<(&str, &str)> = token.map(|token| ("authorization", token)).into_iter().collect();
    read(send(state, api_request(method, path, body, &headers)).await)
}

/// A new event with `seats` seats (rows of ten, $30 each), `days` ahead.
pub async fn create_event(state: &State, seats: u32, days: i64) -> String {
    let admin = token_for(state, uuid::Uuid::new_v4(), shared::domain::user::Role::Admin);
    let body = serde_json::json!({
        "name": format!("Test event {}", uuid::Uuid::new_v4()), "venue": { "name": "Test Hall" },
        "date": (chrono::Utc::now() + chrono::Duration::days(days)).to_rfc3339(),
        "totalSeats": seats, "price": 30, "description": "A test event", "category": "test",
        "salesOpenAt": chrono::Utc::now().to_rfc3339()
    });
    let (status, created) = call(state, "POST", "/events", Some(&admin), Some(&body)).await;
    assert_eq!(status, 201, "{created}");
    created["data"]["id"].as_str().expect("event id").to_owned()
}

/// A path under the machine-wide install cache that `local/stack.sh` fills
/// (TICKETING_CACHE_DIR, default ~/.cache/ticket-booking).
pub fn installed(relative: &str) -> std::path::PathBuf {
    let cache = std::env::var("TICKETING_CACHE_DIR").map(std::path::PathBuf::from).unwrap_or_else(|_| {
        std::path::PathBuf::from(std::env::var("HOME").expect("HOME is set")).join(".cache/ticket-booking")
    });
    cache.join(relative)
}

/// The patched Tansu that `local/stack.sh` installs (its path names the
/// patches, so the script is asked rather than the name repeated here).
pub fn tansu_bin() -> std::path::PathBuf {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../local/stack.sh");
    let output =
        std::process::Command::new("bash").arg(&script).arg("tansu-bin").output().expect("local/stack.sh runs");
    assert!(output.status.success(), "local/stack.sh tansu-bin: {}", String::from_utf8_lossy(&output.stderr));
    std::path::PathBuf::from(String::from_utf8(output.stdout).expect("a UTF-8 path").trim())
}

/// Polls `check` until it returns true or `seconds` pass.
pub async fn eventually<F, Fut>(seconds: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(seconds);
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

/// MailDev's web/REST port (local/stack.sh).
pub fn inbox_url() -> String {
    std::env::var("MAILDEV_URL").unwrap_or_else(|_| "http://127.0.0.1:1080".to_owned())
}

/// Every message MailDev holds for `address`, oldest first.
pub async fn inbox_of(address: &str) -> Vec<Value> {
    let all: Vec<Value> = http_client()
        .get(format!("{}/api/email", inbox_url()))
        .send()
        .await
        .expect("MailDev answers (local/stack.sh up starts it)")
        .json()
        .await
        .expect("a JSON list of messages");
    all.into_iter()
        .filter(|mail| mail["to"].as_array().is_some_and(|to| to.iter().any(|r| r["address"] == address)))
        .collect()
}

/// Waits until `address` has `count` messages, then a moment more, so a
/// duplicate that was on its way would have arrived.
pub async fn inbox_settles_at(address: &str, count: usize) -> Vec<Value> {
    eventually(30, &format!("{count} message(s) for {address}"), || async { inbox_of(address).await.len() >= count })
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    inbox_of(address).await
}

/// Marks `email` proven straight in the database, as following the link
/// from the verification mail would (tests/tests/api/accounts.rs follows the
/// real link through MailDev). Test-only: production has no such path.
pub async fn verify_directly(state: &State, email: &str) {
    let marked = sqlx::query("UPDATE users_demo.users SET email_verified_at = now() WHERE email = $1")
        .bind(email.to_lowercase())
        .execute(state.pg())
        .await
        .expect("verify in the database");
    assert_eq!(marked.rows_affected(), 1, "no account for {email}");
}

/// A registered fan with a verified address: (bearer token, e-mail address).
/// The address is proven the production way, by the link in the
/// verification mail, which is then deleted so the inbox holds only what the
/// test itself causes.
pub async fn fan(state: &State) -> (String, String) {
    let email = unique_email("fan");
    let (status, user) = register(state, &email, "a-long-password").await;
    assert_eq!(status, 202, "{user}");
    eventually(30, &format!("the verification mail for {email}"), || async { !inbox_of(&email).await.is_empty() })
        .await;
    let mail = inbox_of(&email).await.remove(0);
    let text = mail["text"].as_str().unwrap_or_default();
    let token = text.split("/#/verify/").nth(1).and_then(|rest| rest.split_whitespace().next()).expect("a link");
    let (status, verified) =
        call(state, "POST", "/auth/verify", None, Some(&serde_json::json!({ "token": token }))).await;
    assert_eq!(status, 200, "{verified}");
    let id = mail["id"].as_str().expect("MailDev's message id");
    http_client()
        .delete(format!("{}/api/email/{id}", inbox_url()))
        .send()
        .await
        .expect("MailDev deletes")
        .error_for_status()
        .expect("deleted");
    let (status, session) = login(state, &email, "a-long-password").await;
    assert_eq!(status, 200, "{session}");
    (format!("Bearer {}", session["data"]["token"].as_str().unwrap()), email)
}

pub async fn book(state: &State, token: &str, event: &str, seats: &[&str]) -> String {
    let seat_ids: Vec<String> = seats.iter().map(|s| format!("{event}_{s}")).collect();
    let body = serde_json::json!({ "eventId": event, "seatIds": seat_ids });
    let (status, booking) = call(state, "POST", "/bookings", Some(token), Some(&body)).await;
    assert_eq!(status, 201, "{booking}");
    booking["data"]["id"].as_str().unwrap().to_owned()
}

pub async fn pay(state: &State, token: &str, booking: &str) {
    let card = serde_json::json!({ "paymentMethod": { "type": "card", "cardNumber": "4242 4242 4242 4242" } });
    let (status, paid) = call(state, "POST", &format!("/bookings/{booking}/pay"), Some(token), Some(&card)).await;
    assert_eq!(status, 200, "{paid}");
}

/// The seats PostgreSQL gives to an active (open or paid) booking of
/// `event`: label → (booking, its owner). Panics if a seat is in two, which
/// the partial unique index must never allow.
pub async fn active_seats(state: &State, event: &str) -> HashMap<String, (uuid::Uuid, uuid::Uuid)> {
    let rows: Vec<(String, uuid::Uuid, uuid::Uuid)> = sqlx::query_as(
        "SELECT s.seat_label, b.id, b.user_id FROM bookings_demo.booking_seats s
           JOIN bookings_demo.bookings b ON b.id = s.booking_id WHERE s.event_id = $1 AND s.active",
    )
    .bind(event)
    .fetch_all(state.pg())
    .await
    .unwrap();
    let mut seats = HashMap::new();
    for (label, booking, user) in rows {
        assert!(seats.insert(label.clone(), (booking, user)).is_none(), "seat {label} is in two active bookings");
    }
    seats
}

/// How many of the bookings `ids` PostgreSQL has not expired.
pub async fn not_expired<T: AsRef<[uuid::Uuid]>>(state: &State, ids: T) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM bookings_demo.bookings WHERE id = ANY($1) AND status <> 'EXPIRED'")
        .bind(ids.as_ref())
        .fetch_one(state.pg())
        .await
        .unwrap()
}

/// The event's seat board in Redis: label → "H|owner|expires" or "B|owner".
pub async fn redis_board(state: &State, event: &str) -> HashMap<String, String> {
    let mut redis = state.redis().await.unwrap();
    let key = shared::repo::redis_seats::board_key(&shared::domain::event::EventId::parse(event).unwrap());
    redis::cmd("HGETALL").arg(key).query_async(&mut redis).await.unwrap()
}

/// Every seat document of the event in the Mongo read model.
pub async fn seat_docs(state: &State, event: &str) -> Vec<shared::repo::mongo_events::SeatDoc> {
    use futures::TryStreamExt;
    let filter = mongodb::bson::doc! { "eventId": event };
    state.events().seats().find(filter).await.unwrap().try_collect().await.unwrap()
}
