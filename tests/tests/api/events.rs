use std::time::Duration;

use futures::future::join_all;
use mongodb::bson::doc;
use serde_json::{json, Value};
use shared::{
    domain::{
        event::EventId,
        user::{Role, Tier},
    },
    repo::{mongo_events::SeatDoc, SeatHolds},
    seed,
};

use crate::common::{
    api_request, book, call, create_event, eventually, fan, gateway_url, http_client, read, run, segment, send, state,
    token_for, State,
};

async fn seeded() -> std::sync::Arc<State> {
    let state = state().await;
    state.events().create_indexes().await.unwrap();
    seed::seed(&state.events(), chrono::Utc::now()).await.unwrap();
    state
}

fn token(state: &State, role: Role) -> String {
    token_for(state, uuid::Uuid::new_v4(), role)
}

async fn get(state: &State, path: &str, query: &str) -> (u16, Value) {
    let query: std::collections::HashMap<String, String> = form_urlencoded(query).into_iter().collect();
    let req = lambda_http::RequestExt::with_query_string_parameters(api_request("GET", path, None, &[]), query);
    read(send(state, req).await)
}

fn event_path(id: &str) -> String {
    format!("/events/{}", segment(id))
}

fn seats_path(id: &str) -> String {
    format!("/events/{}/seats", segment(id))
}

fn form_urlencoded(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

async fn create(state: &State, auth: Option<&str>, body: &Value) -> (u16, Value) {
    call(state, "POST", "/events", auth, Some(body)).await
}

fn new_event(category: &str, days_ahead: i64, name: &str) -> Value {
    json!({
        "name": name, "venue": { "name": "Test Hall", "city": "Testville" },
        "date": (chrono::Utc::now() + chrono::Duration::days(days_ahead)).to_rfc3339(),
        "totalSeats": 20, "price": 30, "description": "A test event", "category": category,
        "salesOpenAt": chrono::Utc::now().to_rfc3339()
    })
}

async fn seats_of(state: &State, event: &str) -> Vec<SeatDoc> {
    use futures::TryStreamExt;
    state.events().seats().find(doc! { "eventId": event }).await.unwrap().try_collect().await.unwrap()
}

#[test]
fn the_seed_loads_exact_seats_and_prices_per_tier() {
    run(async {
        let state = seeded().await;
        let taylor = seats_of(&state, seed::TAYLOR_SWIFT).await;
        assert_eq!(taylor.len(), 100);
        let count = |tier: &str, cents: i64| {
            taylor.iter().filter(|s| serde_json::to_value(s.tier).unwrap() == tier && s.price_cents == cents).count()
        };
        assert_eq!((count("vip", 22_500), count("premium", 18_000), count("regular", 15_000)), (10, 10, 80));
        assert!(taylor.iter().any(|s| s.id == "taylor-swift-eras-tour_A1" && s.tier == Tier::Vip));
        assert!(taylor.iter().any(|s| s.id == "taylor-swift-eras-tour_C80" && s.tier == Tier::Regular));
        let ed = seats_of(&state, seed::ED_SHEERAN).await;
        assert_eq!(ed.len(), 80);
        assert!(ed.iter().all(|s| s.price_cents == 12_000));
        let jazz = seats_of(&state, seed::JAZZ_NIGHT).await;
        assert_eq!(jazz.len(), 50);
        assert!(jazz.iter().all(|s| s.price_cents == 4_500));
    });
}

#[test]
fn reseeding_adds_nothing_and_keeps_seat_status() {
    run(async {
        let state = seeded().await;
        let seats = state.events().seats().clone();
        let seat = "ed-sheeran-mathematics-tour_H10";
        seats
            .update_one(doc! { "_id": seat }, doc! { "$set": { "status": "booked", "bookingId": "b-1" } })
            .await
            .unwrap();
        assert_eq!(seed::seed(&state.events(), chrono::Utc::now()).await.unwrap(), 0);
        assert_eq!(seats_of(&state, seed::ED_SHEERAN).await.len(), 80);
        let after = seats.find_one(doc! { "_id": seat }).await.unwrap().unwrap();
        assert_eq!(serde_json::to_value(after.status).unwrap(), "booked");
        seats
            .update_one(doc! { "_id": seat }, doc! { "$set": { "status": "available", "bookingId": null } })
            .await
            .unwrap();
    });
}

#[test]
fn the_list_paginates_filters_and_sorts_by_date() {
    run(async {
        let state = seeded().await;
        let admin = token(&state, Role::Admin);
        let category = format!("cat-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        for (days, name) in [(30, "Third Night"), (10, "First Night"), (20, "Second Night")] {
            assert_eq!(create(&state, Some(&admin), &new_event(&category, days, name)).await.0, 201);
        }
        let (status, page1) = get(&state, "/events", &format!("category={category}&limit=2")).await;
        assert_eq!(status, 200, "{page1}");
        let names = |page: &Value| -> Vec<String> {
            page["data"]["events"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap().to_owned()).collect()
        };
        assert_eq!(names(&page1), ["First Night", "Second Night"]);
        assert_eq!((page1["data"]["total"].as_u64(), page1["data"]["totalPages"].as_u64()), (Some(3), Some(2)));
        let (_, page2) = get(&state, "/events", &format!("category={category}&limit=2&page=2")).await;
        assert_eq!(names(&page2), ["Third Night"]);

        let from = (chrono::Utc::now() + chrono::Duration::days(15)).format("%Y-%m-%d");
        let to = (chrono::Utc::now() + chrono::Duration::days(25)).format("%Y-%m-%d");
        let (_, ranged) = get(&state, "/events", &format!("category={category}&from={from}&to={to}")).await;
        assert_eq!(names(&ranged), ["Second Night"]);
        let (_, searched) = get(&state, "/events", &format!("category={category}&q=first")).await;
        assert_eq!(names(&searched), ["First Night"]);
        let (_, by_venue) = get(&state, "/events", "q=madison").await;
        assert_eq!(names(&by_venue), ["Taylor Swift - The Eras Tour"]);
        let availability = &by_venue["data"]["events"][0]["availability"];
        assert_eq!(availability["total"], 100);
    });
}

#[test]
fn bad_list_parameters_are_a_400_naming_them() {
    run(async {
        let state = seeded().await;
        for (query, field) in [
            ("limit=0", "limit"),
            ("limit=abc", "limit"),
            ("limit=101", "limit"),
            ("page=-1", "page"),
            ("from=yesterday", "from"),
            ("category=$ne", "category"),
            ("from=2027-02-01&to=2027-01-01", "to"),
        ] {
            let (status, body) = get(&state, "/events", query).await;
            assert_eq!(status, 400, "{query}: {body}");
            assert!(body["error"]["details"]["fields"].get(field).is_some(), "{query}: {body}");
        }
        // A regex in q is matched literally, not evaluated.
        let (status, body) = get(&state, "/events", "q=.*").await;
        assert_eq!(status, 200);
        assert_eq!(body["data"]["total"], 0);
    });
}

#[test]
fn detail_shows_venue_sections_and_availability_or_404() {
    run(async {
        let state = seeded().await;
        let (status, body) = get(&state, &event_path(seed::TAYLOR_SWIFT), "").await;
        assert_eq!(status, 200, "{body}");
        let event = &body["data"];
        assert_eq!(event["venue"]["name"], "Madison Square Garden");
        assert_eq!(event["venue"]["capacity"], 100);
        assert_eq!(event["artist"]["name"], "Taylor Swift");
        assert_eq!(event["sections"].as_array().unwrap().len(), 3);
        assert_eq!(event["sections"][0]["price"], 225);
        assert_eq!(event["price"], 150);
        assert_eq!(event["availability"]["total"], 100);
        let (status, body) = get(&state, &event_path("no-such-event"), "").await;
        assert_eq!((status, body["error"]["code"].as_str()), (404, Some("NOT_FOUND")));
        for hostile in ["{\"$gt\":\"\"}", "../../etc/passwd", "a'; DROP TABLE users;--"] {
            let (status, _) = get(&state, &event_path(hostile), "").await;
            assert_eq!(status, 400, "{hostile}");
        }
    });
}

#[test]
fn the_seat_map_filters_by_status_and_section() {
    run(async {
        let state = seeded().await;
        let (status, body) = get(&state, &seats_path(seed::TAYLOR_SWIFT), "").await;
        assert_eq!(status, 200);
        let seats = body["data"]["seats"].as_array().unwrap();
        assert_eq!(seats.len(), 100);
        assert_eq!(seats[0]["id"], "taylor-swift-eras-tour_A1");
        assert_eq!((seats[0]["row"].as_str(), seats[0]["number"].as_u64()), (Some("A"), Some(1)));
        let (_, vip) = get(&state, &seats_path(seed::TAYLOR_SWIFT), "section=VIP").await;
        let vip = vip["data"]["seats"].as_array().unwrap();
        assert_eq!(vip.len(), 10);
        assert!(vip.iter().all(|s| s["tier"] == "vip" && s["price"] == 225));
        let (_, none) = get(&state, &seats_path(seed::TAYLOR_SWIFT), "section=Balcony").await;
        assert_eq!(none["data"]["seats"].as_array().unwrap().len(), 0);
        let (status, _) = get(&state, &seats_path(seed::TAYLOR_SWIFT), "status=sold").await;
        assert_eq!(status, 400);
        let (status, _) = get(&state, &seats_path("no-such-event"), "").await;
        assert_eq!(status, 404);
    });
}

#[test]
fn a_hold_shows_on_the_seat_map_and_its_release_frees_the_seat() {
    run(async {
        let state = seeded().await;
        let admin = token(&state, Role::Admin);
        let (_, created) = create(&state, Some(&admin), &new_event("holdtest", 5, "Hold Test")).await;
        let id = created["data"]["id"].as_str().unwrap().to_owned();
        let event = EventId::parse(&id).unwrap();
        let board = state.seat_board().await.unwrap();
        let booking = uuid::Uuid::new_v4().to_string();
        let expires = chrono::Utc::now().timestamp_millis() + 60_000;
        let labels = vec!["A1".to_owned(), "A2".to_owned()];
        assert!(board.hold(&event, &booking, &labels, expires).await.unwrap().is_empty());

        let status_of = |state: std::sync::Arc<State>, id: String| async move {
            let (_, body) = get(&state, &seats_path(&id), "section=General").await;
            body["data"]["seats"][0]["status"].as_str().unwrap().to_owned()
        };
        eventually(10, "A1 shown held", || async { status_of(state.clone(), id.clone()).await == "held" }).await;
        // Someone else cannot take a held seat, all-or-nothing.
        let other = uuid::Uuid::new_v4().to_string();
        let taken = board.hold(&event, &other, &["A2".into(), "A3".into()], expires).await.unwrap();
        assert_eq!(taken, ["A2"]);
        let (_, map) = get(&state, &seats_path(&id), "status=held").await;
        assert_eq!(map["data"]["availability"]["held"], 2, "A3 must not be held by the failed attempt");
        // Release checks the owner.
        assert_eq!(board.release(&event, &other, &labels).await.unwrap(), 0);
        assert_eq!(board.release(&event, &booking, &labels).await.unwrap(), 2);
        eventually(10, "A1 shown available", || async { status_of(state.clone(), id.clone()).await == "available" })
            .await;
    });
}

#[test]
fn an_expired_hold_reads_as_available_without_any_cleanup() {
    run(async {
        let state = seeded().await;
        let admin = token(&state, Role::Admin);
        let (_, created) = create(&state, Some(&admin), &new_event("expiry", 5, "Expiry Test")).await;
        let event = EventId::parse(created["data"]["id"].as_str().unwrap()).unwrap();
        let board = state.seat_board().await.unwrap();
        let expires = chrono::Utc::now().timestamp_millis() + 300;
        assert!(board.hold(&event, "b-short", &["A1".into()], expires).await.unwrap().is_empty());
        tokio::time::sleep(Duration::from_millis(400)).await;
        let (_, map) = get(&state, &seats_path(event.as_ref()), "status=available").await;
        assert_eq!(map["data"]["availability"]["available"], 20);
        assert!(board.hold(&event, "b-next", &["A1".into()], expires + 60_000).await.unwrap().is_empty());
    });
}

#[test]
fn creating_events_needs_an_admin_token() {
    run(async {
        let state = seeded().await;
        let body = new_event("authz", 5, "Authz");
        assert_eq!(create(&state, None, &body).await.0, 401);
        assert_eq!(create(&state, Some(&token(&state, Role::User)), &body).await.0, 403);
        let (issuer, audience) = (&state.config.jwt_issuer, &state.config.jwt_audience);
        let forged = shared::auth::JwtKeys::new(
            &shared::config::Secret::new("f".repeat(40)),
            Duration::from_secs(60),
            issuer,
            audience,
        )
        .issue(uuid::Uuid::new_v4(), "x@y.z", Role::Admin, Tier::Vip)
        .unwrap();
        assert_eq!(create(&state, Some(&forged), &body).await.0, 401);
        // A user token with the role claim edited to admin.
        let user = token(&state, Role::User);
        let parts: Vec<&str> = user.trim_start_matches("Bearer ").split('.').collect();
        use base64::Engine;
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut claims: Value = serde_json::from_slice(&engine.decode(parts[1]).unwrap()).unwrap();
        claims["role"] = "admin".into();
        let tampered = format!("{}.{}.{}", parts[0], engine.encode(claims.to_string()), parts[2]);
        assert_eq!(create(&state, Some(&tampered), &body).await.0, 401);
        let none = format!("{}.{}.", engine.encode(r#"{"alg":"none","typ":"JWT"}"#), engine.encode(claims.to_string()));
        assert_eq!(create(&state, Some(&none), &body).await.0, 401);
    });
}

#[test]
fn invalid_events_are_a_400_naming_each_field_and_store_nothing() {
    run(async {
        let state = seeded().await;
        let admin = token(&state, Role::Admin);
        let name = format!("Invalid {}", uuid::Uuid::new_v4());
        let cases = [
            (json!({ "name": name }), vec!["category", "date", "description", "price", "totalSeats", "venue"]),
            (json!({ "name": { "$gt": "" } }), vec!["name"]),
            (
                json!({ "name": name, "venue": "V", "date": "2020-01-01T00:00:00Z", "totalSeats": 10, "price": 5,
                     "description": "d", "category": "c" }),
                vec!["date"],
            ),
            (
                json!({ "name": name, "venue": "V", "date": "2030-01-01T00:00:00Z", "totalSeats": -10, "price": 5,
                     "description": "d", "category": "c" }),
                vec!["totalSeats"],
            ),
            (
                json!({ "name": name, "venue": "V", "date": "2030-01-01T00:00:00Z", "totalSeats": 10, "price": 0.001,
                     "description": "d", "category": "c" }),
                vec!["price"],
            ),
        ];
        for (body, fields) in cases {
            let (status, response) = create(&state, Some(&admin), &body).await;
            assert_eq!(status, 400, "{body}: {response}");
            let named: Vec<&str> =
                response["error"]["details"]["fields"].as_object().unwrap().keys().map(String::as_str).collect();
            assert_eq!(named, fields, "{body}");
        }
        let (_, listed) = get(&state, "/events", &format!("q={}", name.to_lowercase())).await;
        assert_eq!(listed["data"]["total"], 0);
    });
}

#[test]
fn a_five_hundred_seat_event_with_sections_is_created_with_every_seat() {
    run(async {
        let state = seeded().await;
        let admin = token(&state, Role::Admin);
        let mut body = new_event("arena", 60, "Arena Night");
        body["totalSeats"] = 500.into();
        body["sections"] = json!([
            { "name": "Floor", "tier": "vip", "price": 199.99, "rows": 5, "seatsPerRow": 20 },
            { "name": "Lower Bowl", "tier": "premium", "price": 120, "rows": 10, "seatsPerRow": 20 },
            { "name": "Upper Bowl", "price": 60, "rows": 10, "seatsPerRow": 20 }
        ]);
        let (status, created) = create(&state, Some(&admin), &body).await;
        assert_eq!(status, 201, "{created}");
        let id = created["data"]["id"].as_str().unwrap();
        assert_eq!(created["data"]["availability"]["available"], 500);
        let seats = seats_of(&state, id).await;
        assert_eq!(seats.len(), 500);
        assert_eq!(seats.iter().filter(|s| s.price_cents == 19_999).count(), 100);
        let (_, map) = get(&state, &seats_path(id), "section=upper bowl").await;
        let upper = map["data"]["seats"].as_array().unwrap();
        assert_eq!(upper.len(), 200);
        assert_eq!(upper[0]["label"], "P1", "rows continue across sections");
    });
}

#[test]
fn concurrent_seat_map_reads_all_succeed() {
    run(async {
        let state = seeded().await;
        let reads = (0..200).map(|_| {
            let state = state.clone();
            tokio::spawn(async move { get(&state, &seats_path(seed::TAYLOR_SWIFT), "").await.0 })
        });
        let statuses: Vec<u16> = join_all(reads).await.into_iter().map(Result::unwrap).collect();
        assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    });
}

#[test]
fn a_polled_seat_map_answers_304_until_a_seat_changes() {
    run(async {
        let base = gateway_url().await;
        let state = state().await;
        let event = create_event(&state, 20, 30).await;
        let client = http_client();
        let url = format!("{base}/events/{event}/seats");
        let first = client.get(&url).send().await.unwrap();
        assert_eq!(first.status(), 200);
        let tag = first.headers()["etag"].to_str().unwrap().to_owned();
        assert_eq!(first.headers()["cache-control"], "public, max-age=1");

        let unchanged = client.get(&url).header("if-none-match", &tag).send().await.unwrap();
        assert_eq!(unchanged.status(), 304);
        assert_eq!(unchanged.headers()["etag"].to_str().unwrap(), tag);
        assert!(unchanged.bytes().await.unwrap().is_empty());

        let (token, _) = fan(&state).await;
        book(&state, &token, &event, &["A1"]).await;
        let changed = client.get(&url).header("if-none-match", &tag).send().await.unwrap();
        assert_eq!(changed.status(), 200, "a held seat changes the map");
        assert_ne!(changed.headers()["etag"].to_str().unwrap(), tag);
        let map: Value = changed.json().await.unwrap();
        let a1 = map["data"]["seats"].as_array().unwrap().iter().find(|s| s["label"] == "A1").unwrap().clone();
        assert_eq!(a1["status"], "held");
    });
}
