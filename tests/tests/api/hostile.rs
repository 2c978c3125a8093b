//! A corpus of hostile requests across every route, sent over HTTP through
//! the gateway. Each must get a 4xx JSON error, change nothing, panic
//! nothing (a panic is API Gateway's 502) and leak no internals.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use serde_json::{json, Value};
use shared::domain::user::{Role, Tier};
use uuid::Uuid;

use crate::common::{create_event, gateway_url, http_client, run, state, token_for, State};

struct Case {
    name: String,
    method: &'static str,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

fn case(
    name: impl Into<String>,
    method: &'static str,
    path: impl Into<String>,
    auth: Option<&str>,
    body: impl Into<Vec<u8>>,
) -> Case {
    let headers = auth.map(|a| vec![("authorization", a.to_owned())]).unwrap_or_default();
    Case { name: name.into(), method, path: path.into(), headers, body: body.into() }
}

/// Tokens no deployment should accept.
fn forged_tokens(state: &State) -> Vec<(&'static str, String)> {
    let user = state.jwt.issue(Uuid::new_v4(), "x@y.z", Role::User, Tier::Regular).unwrap();
    let parts: Vec<&str> = user.split('.').collect();
    let mut claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["role"] = "admin".into();
    let tampered = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(claims.to_string()), parts[2]);
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let other_key = shared::auth::JwtKeys::new(
        &shared::config::Secret::new("k".repeat(40)),
        std::time::Duration::from_secs(60),
        &state.config.jwt_issuer,
        &state.config.jwt_audience,
    )
    .issue(Uuid::new_v4(), "x@y.z", Role::Admin, Tier::Vip)
    .unwrap();
    // Signed with this deployment's own secret, issued for another one.
    let other_deployment = shared::auth::JwtKeys::new(
        &state.config.jwt_secret,
        std::time::Duration::from_secs(60),
        "staging",
        &state.config.jwt_audience,
    )
    .issue(Uuid::new_v4(), "x@y.z", Role::Admin, Tier::Vip)
    .unwrap();
    let now = chrono::Utc::now().timestamp();
    let expired = state
        .jwt
        .sign(&state.jwt.claims(Uuid::new_v4(), "x@y.z", Role::Admin, Tier::Vip, now - 7200, now - 3600))
        .unwrap();
    vec![
        ("tampered role claim", format!("Bearer {tampered}")),
        ("alg none", format!("Bearer {none}")),
        ("wrong key", format!("Bearer {other_key}")),
        ("another deployment's issuer", format!("Bearer {other_deployment}")),
        ("expired", format!("Bearer {expired}")),
        ("garbage", "Bearer not.a.jwt".to_owned()),
        ("basic scheme", format!("Basic {user}")),
        ("empty bearer", "Bearer ".to_owned()),
        ("two tokens", format!("Bearer {user} {user}")),
    ]
}

fn hostile_strings() -> Vec<Value> {
    vec![
        json!({ "$gt": "" }),
        json!({ "$ne": null }),
        json!({ "$where": "sleep(1000)" }),
        json!("' OR '1'='1"),
        json!("'; DROP TABLE users_demo.users; --"),
        json!("../../../etc/passwd"),
        json!("\u{0000}\u{0001}"),
        json!("\u{202E}gnp.exe"),
        json!("𝕿𝖊𝖘𝖙 🎫"),
        json!(""),
        json!(null),
        json!(12345),
        json!(-1),
        json!(1e308),
        json!(true),
        json!([]),
        json!(["a", "b"]),
        json!("x".repeat(10_000)),
    ]
}

fn corpus(state: &State, event: &str, other_event: &str, user: &str, foreign_booking: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    let malformed: Vec<&[u8]> = vec![
        b"{",
        b"{\"email\":",
        b"{\"email\":\"a@b.co\",}",
        b"[1,2",
        b"nul",
        b"\"just a string\"",
        b"{\"a\":1}{\"b\":2}",
        b"\xff\xfe\xfd",
        b"{'single':'quotes'}",
        b"",
    ];
    for route in ["/auth/register", "/auth/login"] {
        for (i, body) in malformed.iter().enumerate() {
            cases.push(case(format!("{route} malformed #{i}"), "POST", route, None, *body));
        }
        for field in ["email", "name", "password", "phone", "tier"] {
            for (i, value) in hostile_strings().into_iter().enumerate() {
                let mut body = json!({ "email": "hostile@example.test", "name": "H", "password": "hostile-pass" });
                body[field] = value;
                if route == "/auth/login" && !matches!(field, "email" | "password") {
                    continue;
                }
                // Values that are legitimately valid for the field (a name may
                // contain quotes or emoji; phone and tier may be null).
                let valid_anyway = match field {
                    "name" => [3, 4, 5, 7, 8].contains(&i),
                    "password" => [3, 4, 5, 7].contains(&i),
                    "phone" | "tier" => i == 10,
                    _ => false,
                };
                if route == "/auth/register" && valid_anyway {
                    continue;
                }
                cases.push(case(format!("{route} {field} hostile #{i}"), "POST", route, None, body.to_string()));
            }
        }
        cases.push(case(format!("{route} body over 1 MiB"), "POST", route, None, vec![b' '; 1024 * 1024 + 10]));
    }
    for query in [
        "limit=0",
        "limit=-5",
        "limit=1e9",
        "limit=abc",
        "page=0",
        "page=99999999999",
        "from=not-a-date",
        "to=2027-13-45",
        "category=%24ne",
        "category=a%00b",
        "q=",
        "from=2030-01-01&to=2020-01-01",
    ] {
        if query == "q=" {
            continue;
        }
        cases.push(case(format!("GET /events?{query}"), "GET", format!("/events?{query}"), None, ""));
    }
    for id in [
        "%7B%22%24gt%22%3A%22%22%7D",
        "..%2F..%2Fetc%2Fpasswd",
        "UPPER",
        "a%20b",
        "%00",
        &"a".repeat(65),
        "a'--",
        "-x",
        "%F0%9F%8E%AB",
    ] {
        cases.push(case(format!("GET /events/{id}"), "GET", format!("/events/{id}"), None, ""));
        cases.push(case(format!("GET /events/{id}/seats"), "GET", format!("/events/{id}/seats"), None, ""));
    }
    cases.push(case("GET seats ?status=sold", "GET", format!("/events/{event}/seats?status=sold"), None, ""));
    cases.push(case("GET unknown event", "GET", "/events/no-such-event", None, ""));

    let admin = token_for(state, Uuid::new_v4(), Role::Admin);
    let event_body = || {
        json!({ "name": "Hostile Show", "venue": "Hall", "date": "2030-01-01T20:00:00Z", "totalSeats": 10,
                "price": 10, "description": "d", "category": "hostile" })
    };
    cases.push(case("POST /events without token", "POST", "/events", None, event_body().to_string()));
    cases.push(case("POST /events as user", "POST", "/events", Some(user), event_body().to_string()));
    for (name, token) in forged_tokens(state) {
        cases.push(case(format!("POST /events {name}"), "POST", "/events", Some(&token), event_body().to_string()));
    }
    for field in ["name", "venue", "date", "totalSeats", "price", "description", "category", "sections", "salesOpenAt"]
    {
        for (i, value) in hostile_strings().into_iter().enumerate() {
            let mut body = event_body();
            body[field] = value;
            let valid_anyway = match field {
                "name" | "description" | "venue" => [3, 4, 5, 7, 8].contains(&i),
                "price" => i == 11,
                "sections" | "salesOpenAt" => i == 10,
                _ => false,
            };
            if !valid_anyway {
                cases.push(case(
                    format!("POST /events {field} hostile #{i}"),
                    "POST",
                    "/events",
                    Some(&admin),
                    body.to_string(),
                ));
            }
        }
    }
    // Sales that open after the show (or at it) would never open.
    for (i, opens) in ["2030-01-01T20:00:00Z", "2031-01-01T00:00:00Z", "2030-01-01T20:00:00"].into_iter().enumerate() {
        let mut body = event_body();
        body["salesOpenAt"] = opens.into();
        cases.push(case(
            format!("POST /events salesOpenAt edge #{i}"),
            "POST",
            "/events",
            Some(&admin),
            body.to_string(),
        ));
    }
    for (i, extra) in [json!(0), json!(-1), json!(10_001), json!(4_294_967_296u64), json!(1.5)].into_iter().enumerate()
    {
        let mut body = event_body();
        body["totalSeats"] = extra;
        cases.push(case(
            format!("POST /events totalSeats edge #{i}"),
            "POST",
            "/events",
            Some(&admin),
            body.to_string(),
        ));
    }

    let seat = |e: &str, l: &str| format!("{e}_{l}");
    let booking_bodies = vec![
        ("seats of another event", json!({ "eventId": event, "seatIds": [seat(other_event, "A1")] })),
        ("duplicated seats", json!({ "eventId": event, "seatIds": [seat(event, "A1"), seat(event, "A1")] })),
        ("unknown seat", json!({ "eventId": event, "seatIds": [seat(event, "Z999")] })),
        ("empty list", json!({ "eventId": event, "seatIds": [] })),
        (
            "too many seats",
            json!({ "eventId": event, "seatIds": (1..=11).map(|n| seat(event, &format!("A{n}"))).collect::<Vec<_>>() }),
        ),
        (
            "a thousand seats",
            json!({ "eventId": event, "seatIds": (0..1000).map(|n| format!("{event}_X{n}")).collect::<Vec<_>>() }),
        ),
        ("seat ids as string", json!({ "eventId": event, "seatIds": seat(event, "A1") })),
        // Multi-byte characters straddling the 80-byte cut the error message makes.
        ("seat id of two-byte chars", json!({ "eventId": event, "seatIds": [format!("a{}", "é".repeat(40))] })),
        (
            "seat id of four-byte chars",
            json!({ "eventId": event, "seatIds": [format!("{event}_{}", "🎫".repeat(30))] }),
        ),
        ("seat id operator", json!({ "eventId": event, "seatIds": [{ "$ne": null }] })),
        ("seat id number", json!({ "eventId": event, "seatIds": [1] })),
        ("event id operator", json!({ "eventId": { "$gt": "" }, "seatIds": [seat(event, "A1")] })),
        ("event id sql", json!({ "eventId": "x' OR 1=1 --", "seatIds": [seat(event, "A1")] })),
        ("event id traversal", json!({ "eventId": "../../etc", "seatIds": [seat(event, "A1")] })),
        ("missing event", json!({ "seatIds": [seat(event, "A1")] })),
        ("unknown event", json!({ "eventId": "no-such-event", "seatIds": ["no-such-event_A1"] })),
        ("null everything", json!({ "eventId": null, "seatIds": null })),
        ("array body", json!([event])),
    ];
    for (name, body) in booking_bodies {
        cases.push(case(format!("POST /bookings {name}"), "POST", "/bookings", Some(user), body.to_string()));
    }
    for (i, body) in malformed.iter().enumerate() {
        cases.push(case(format!("POST /bookings malformed #{i}"), "POST", "/bookings", Some(user), *body));
    }
    cases.push(case("POST /bookings over 1 MiB", "POST", "/bookings", Some(user), vec![b'{'; 1024 * 1024 + 1]));
    let good_booking = json!({ "eventId": event, "seatIds": [seat(event, "A9")] }).to_string();
    cases.push(case("POST /bookings without token", "POST", "/bookings", None, good_booking.clone()));
    let pay = json!({ "paymentMethod": { "type": "card", "cardNumber": "4242424242424242" } }).to_string();
    for (name, token) in forged_tokens(state) {
        cases.push(case(format!("POST /bookings {name}"), "POST", "/bookings", Some(&token), good_booking.clone()));
        cases.push(case(format!("GET /bookings {name}"), "GET", "/bookings", Some(&token), ""));
        cases.push(case(
            format!("GET booking {name}"),
            "GET",
            format!("/bookings/{foreign_booking}"),
            Some(&token),
            "",
        ));
        cases.push(case(
            format!("cancel {name}"),
            "PUT",
            format!("/bookings/{foreign_booking}/cancel"),
            Some(&token),
            "",
        ));
        cases.push(case(
            format!("pay {name}"),
            "POST",
            format!("/bookings/{foreign_booking}/pay"),
            Some(&token),
            pay.clone(),
        ));
    }
    let mut doubled =
        case("POST /bookings doubled Authorization", "POST", "/bookings", Some(user), good_booking.clone());
    doubled.headers.push(("authorization", user.to_owned()));
    cases.push(doubled);
    for id in [
        foreign_booking.to_owned(),
        Uuid::new_v4().to_string(),
        "not-a-uuid".into(),
        "..%2F..%2Fetc".into(),
        "%7B%22%24gt%22%3A1%7D".into(),
        "1%27%20OR%201%3D1".into(),
    ] {
        cases.push(case(format!("GET booking {id}"), "GET", format!("/bookings/{id}"), Some(user), ""));
        cases.push(case(format!("cancel booking {id}"), "PUT", format!("/bookings/{id}/cancel"), Some(user), ""));
        cases.push(case(format!("pay booking {id}"), "POST", format!("/bookings/{id}/pay"), Some(user), pay.clone()));
    }
    for (i, body) in [
        json!({}),
        json!({ "paymentMethod": null }),
        json!({ "paymentMethod": { "type": "bitcoin", "cardNumber": "4242424242424242" } }),
        json!({ "paymentMethod": { "cardNumber": "4242424242424241" } }),
        json!({ "paymentMethod": { "cardNumber": { "$gt": "" } } }),
        json!({ "paymentMethod": { "cardNumber": "4242' OR 1=1" } }),
        json!({ "paymentMethod": "card" }),
    ]
    .into_iter()
    .enumerate()
    {
        cases.push(case(
            format!("pay foreign with bad body #{i}"),
            "POST",
            format!("/bookings/{foreign_booking}/pay"),
            Some(user),
            body.to_string(),
        ));
    }
    for query in ["status=PAID", "limit=0", "limit=1000", "page=abc"] {
        cases.push(case(format!("GET /bookings?{query}"), "GET", format!("/bookings?{query}"), Some(user), ""));
    }
    cases.push(case("unknown route", "GET", "/admin", None, ""));
    cases.push(case("traversal route", "GET", "/events/../../etc/passwd", None, ""));
    cases.push(case("wrong method", "DELETE", "/events", Some(&admin), ""));
    cases.push(case("wrong method on bookings", "PATCH", format!("/bookings/{foreign_booking}"), Some(user), ""));
    // The waiting room: on-sale bodies, queue tokens and admission passes.
    for (i, body) in [
        json!({}),
        json!({ "opensAt": { "$gt": "" } }),
        json!({ "opensAt": "' OR 1=1 --" }),
        json!({ "opensAt": "2020-01-01T00:00:00Z", "queueEnabled": true }),
        json!({ "opensAt": "2020-01-01T00:00:00Z", "queueEnabled": true, "admissionPerMinute": -5 }),
        json!({ "opensAt": "2020-01-01T00:00:00Z", "admissionPerMinute": 1e308 }),
        json!({ "opensAt": "2020-01-01T00:00:00Z", "passTtlSeconds": "forever" }),
        json!({ "opensAt": "2020-01-01T00:00:00Z", "maxSeatsPerUser": 0 }),
        json!({ "opensAt": "2999-01-01T00:00:00Z" }),
        json!({ "opensAt": "2020-01-01T00:00:00Z", "$where": "1" }),
        json!([]),
    ]
    .into_iter()
    .enumerate()
    {
        cases.push(case(
            format!("on-sale bad body #{i}"),
            "PUT",
            format!("/events/{event}/onsale"),
            Some(&admin),
            body.to_string(),
        ));
    }
    let valid_sale = json!({ "opensAt": "2020-01-01T00:00:00Z" }).to_string();
    cases.push(case("on-sale as a user", "PUT", format!("/events/{event}/onsale"), Some(user), valid_sale.clone()));
    cases.push(case("on-sale without a token", "PUT", format!("/events/{event}/onsale"), None, valid_sale.clone()));
    for (name, token) in &forged_tokens(state) {
        cases.push(case(
            format!("on-sale with {name}"),
            "PUT",
            format!("/events/{event}/onsale"),
            Some(token),
            valid_sale.clone(),
        ));
        cases.push(case(format!("join with {name}"), "POST", format!("/events/{event}/queue"), Some(token), ""));
    }
    cases.push(case("on-sale of an unknown event", "PUT", "/events/no-such-event/onsale", Some(&admin), valid_sale));
    // The organisers' sales figures: admin only, bounded paging.
    let stats = format!("/admin/events/{event}/stats");
    for query in [
        "?limit=0",
        "?limit=-1",
        "?limit=99999999999999999999",
        "?limit=1e3",
        "?from=%27%20OR%201%3D1%20--",
        "?from=9999-99-99T99:99:99Z",
        "?from=2027-06-01",
    ] {
        cases.push(case(format!("stats {query}"), "GET", format!("{stats}{query}"), Some(&admin), ""));
    }
    cases.push(case("stats as a fan", "GET", stats.clone(), Some(user), ""));
    cases.push(case("stats without a token", "GET", stats.clone(), None, ""));
    for (name, token) in &forged_tokens(state) {
        cases.push(case(format!("stats with {name}"), "GET", stats.clone(), Some(token), ""));
    }
    cases.push(case("stats of a malformed id", "GET", "/admin/events/%24gt/stats", Some(&admin), ""));
    cases.push(case("stats of an unknown event", "GET", "/admin/events/no-such-event/stats", Some(&admin), ""));
    cases.push(case("stats by POST", "POST", stats, Some(&admin), "{}"));
    cases.push(case("join an event with no on-sale", "POST", format!("/events/{event}/queue"), Some(user), ""));
    cases.push(case("line of an event with no on-sale", "GET", format!("/events/{event}/queue"), None, ""));
    cases.push(case("line of a malformed id", "GET", "/events/%24gt/queue", None, ""));
    for token in [
        "x",
        "%24gt",
        &format!("{event}.0123"),
        &format!("{event}.{}", "f".repeat(32)),
        &format!("{event}.{}", "F".repeat(32)),
    ] {
        cases.push(case(format!("queue place {token}"), "GET", format!("/queue/{token}"), Some(user), ""));
    }
    cases.push(case("queue place without a token", "GET", format!("/queue/{event}.{}", "a".repeat(32)), None, ""));
    // The waiting list: bad requests, forged tokens, and an event with seats
    // on sale (which has no waiting list).
    let waitlist = format!("/events/{event}/waitlist");
    for (i, body) in [
        json!({ "seats": 0 }),
        json!({ "seats": 5 }),
        json!({ "seats": -1 }),
        json!({ "seats": "two" }),
        json!({ "seats": 1e308 }),
        json!({ "seats": 1.5 }),
        json!({ "seats": { "$gt": 0 } }),
        json!({ "seats": 1, "vip": true }),
        json!([1]),
    ]
    .into_iter()
    .enumerate()
    {
        cases.push(case(format!("waitlist bad body #{i}"), "POST", waitlist.clone(), Some(user), body.to_string()));
    }
    cases.push(case("waitlist of an event with seats on sale", "POST", waitlist.clone(), Some(user), "{}"));
    cases.push(case("waitlist join of an unknown event", "POST", "/events/no-such-event/waitlist", Some(user), ""));
    cases.push(case("waitlist of a malformed id", "POST", "/events/%24gt/waitlist", Some(user), ""));
    cases.push(case("waitlist place never joined", "GET", waitlist.clone(), Some(user), ""));
    cases.push(case("waitlist leave never joined", "DELETE", waitlist.clone(), Some(user), ""));
    for (name, token) in &forged_tokens(state) {
        cases.push(case(format!("waitlist join with {name}"), "POST", waitlist.clone(), Some(token), "{}"));
        cases.push(case(format!("waitlist place with {name}"), "GET", waitlist.clone(), Some(token), ""));
    }
    cases.push(case("waitlist without a token", "DELETE", waitlist, None, ""));
    // A pass of the wrong type is refused even where no queue needs one
    // (forged and foreign passes for a queued event: waiting_room.rs).
    for (i, pass) in [json!({ "$ne": null }), json!(12), json!(["a"])].into_iter().enumerate() {
        let body = json!({ "eventId": event, "seatIds": [format!("{event}_A1")], "admissionPass": pass });
        cases.push(case(
            format!("booking with a pass of the wrong type #{i}"),
            "POST",
            "/bookings",
            Some(user),
            body.to_string(),
        ));
    }
    // Account links (issue 32.7): forged, expired, misdirected, for another
    // purpose, or not links at all. Each is a 400 that changes nothing.
    account_link_cases(state, &mut cases);
    // Door staff per event (issue 32.9): only an admin assigns, and staff
    // admit only where assigned.
    let staff_route = |user: &str| format!("/events/{event}/staff/{user}");
    let someone = Uuid::new_v4().to_string();
    let staff = token_for(state, Uuid::new_v4(), Role::Staff);
    for (who, token) in [("a fan", user), ("door staff", staff.as_str())] {
        cases.push(case(format!("staff assigned by {who}"), "PUT", staff_route(&someone), Some(token), ""));
        cases.push(case(format!("staff removed by {who}"), "DELETE", staff_route(&someone), Some(token), ""));
    }
    for (name, token) in &forged_tokens(state) {
        cases.push(case(format!("staff assigned with {name}"), "PUT", staff_route(&someone), Some(token), ""));
    }
    cases.push(case("staff assigned without a token", "PUT", staff_route(&someone), None, ""));
    cases.push(case("staff: a malformed user id", "PUT", staff_route("%24gt"), Some(&admin), ""));
    cases.push(case("staff: an unknown user", "PUT", staff_route(&someone), Some(&admin), ""));
    cases.push(case(
        "staff: an unknown event",
        "PUT",
        format!("/events/no-such-event/staff/{someone}"),
        Some(&admin),
        "",
    ));
    let scan = json!({ "code": "x.y.z", "gate": "north" }).to_string();
    cases.push(case(
        "check-in by staff not assigned to the event",
        "POST",
        format!("/events/{event}/checkin"),
        Some(&staff),
        scan,
    ));
    cases.push(case("resend verification without a token", "POST", "/auth/verify/resend", None, ""));
    for (name, token) in &forged_tokens(state) {
        cases.push(case(format!("resend verification with {name}"), "POST", "/auth/verify/resend", Some(token), ""));
    }
    let mut bad_key = case("Idempotency-Key too long", "POST", "/bookings", Some(user), good_booking);
    bad_key.headers.push(("idempotency-key", "k".repeat(300)));
    cases.push(bad_key);
    cases
}

/// Verification and reset links no deployment should accept, at both
/// routes that take one; and hostile reset requests.
fn account_link_cases(state: &State, cases: &mut Vec<Case>) {
    use shared::account_links::{fingerprint, LinkSigner, Purpose};
    let (user, email) = (Uuid::new_v4(), "hostile-link@example.test");
    let now = chrono::Utc::now().timestamp();
    let pwd = || Some(fingerprint("a hash that is not stored"));
    let genuine_verify = state.links.sign(Purpose::VerifyEmail, user, email, None).unwrap();
    let parts: Vec<&str> = genuine_verify.split('.').collect();
    let mut claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["email"] = "victim@example.test".into();
    let altered = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(claims.to_string()), parts[2]);
    let none = format!("{}.{}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#), parts[1]);
    let foreign = LinkSigner::new(
        &shared::config::Secret::new("k".repeat(40)),
        &state.config.jwt_issuer,
        &state.config.jwt_audience,
    );
    let login = state.jwt.issue(user, email, Role::Admin, Tier::Vip).unwrap();
    let links: Vec<(&str, Value)> = vec![
        ("altered", altered.into()),
        ("alg none", none.into()),
        ("another key", foreign.sign(Purpose::VerifyEmail, user, email, None).unwrap().into()),
        ("a login token", login.into()),
        ("expired verify", state.links.sign_at(Purpose::VerifyEmail, user, email, None, now - 200_000).unwrap().into()),
        ("expired reset", state.links.sign_at(Purpose::ResetPassword, user, email, pwd(), now - 7200).unwrap().into()),
        (
            "for an account that does not exist",
            state.links.sign(Purpose::VerifyEmail, user, email, None).unwrap().into(),
        ),
        ("reset: unknown account", state.links.sign(Purpose::ResetPassword, user, email, pwd()).unwrap().into()),
        ("garbage", "not.a.link".into()),
        ("empty", "".into()),
        ("null", Value::Null),
        ("an object", json!({ "$ne": null })),
        ("a number", json!(12)),
        ("huge", "x".repeat(20_000).into()),
    ];
    for (name, token) in links {
        let verify = json!({ "token": token }).to_string();
        cases.push(case(format!("verify link: {name}"), "POST", "/auth/verify", None, verify));
        let reset = json!({ "token": token, "password": "hostile-new-password" }).to_string();
        cases.push(case(format!("reset link: {name}"), "POST", "/auth/password-reset/confirm", None, reset));
    }
    cases.push(case("verify with extra fields", "POST", "/auth/verify", None, r#"{"token":"a","userId":"x"}"#));
    for (i, value) in hostile_strings().into_iter().enumerate() {
        let body = json!({ "email": value }).to_string();
        cases.push(case(format!("password reset email hostile #{i}"), "POST", "/auth/password-reset", None, body));
    }
}

const LEAKS: [&str; 10] = [
    "sqlx",
    "SELECT",
    "INSERT",
    "users_demo",
    "bookings_demo",
    "panicked",
    "redis://",
    "mongodb://",
    "postgres://",
    "stack backtrace",
];

#[test]
fn two_hundred_hostile_requests_get_clean_4xx_json_and_change_nothing() {
    run(async {
        let state = state().await;
        let base = gateway_url().await;
        let event = create_event(&state, 20, 5).await;
        let other_event = create_event(&state, 20, 5).await;
        let user = token_for(&state, Uuid::new_v4(), Role::User);
        // Someone else's booking, to aim at.
        let owner = token_for(&state, Uuid::new_v4(), Role::User);
        let client = http_client();
        let booked: Value = client
            .post(format!("{base}/bookings"))
            .header("authorization", &owner)
            .json(&json!({ "eventId": other_event, "seatIds": [format!("{other_event}_B1")] }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let foreign = booked["data"]["id"].as_str().expect("owner's booking").to_owned();
        let count = |sql: &'static str| {
            let pool = state.pg().clone();
            async move { sqlx::query_scalar::<_, i64>(sql).fetch_one(&pool).await.unwrap() }
        };
        let users_before = count("SELECT count(*) FROM users_demo.users WHERE email LIKE 'hostile%'").await;
        let mut cases = corpus(&state, &event, &other_event, &user, &foreign);
        // Tokens the deployment issued and then took back (issue 32.3): a
        // demoted admin's and a logged-out fan's, on the routes they once
        // opened.
        let demoted_id = Uuid::new_v4();
        let demoted = token_for(&state, demoted_id, Role::Admin);
        let admin = token_for(&state, Uuid::new_v4(), Role::Admin);
        let role = json!({ "role": "user" });
        let (status, body) =
            crate::common::call(&state, "PUT", &format!("/users/{demoted_id}/role"), Some(&admin), Some(&role)).await;
        assert_eq!(status, 200, "{body}");
        let (logged_out, _) = crate::common::fan(&state).await;
        assert_eq!(crate::common::call(&state, "POST", "/auth/logout", Some(&logged_out), None).await.0, 200);
        let event_body = json!({ "name": "Hostile Show", "venue": "Hall", "date": "2030-01-01T20:00:00Z", "totalSeats": 10,
                                 "price": 10, "description": "d", "category": "hostile" });
        for (who, token) in [("a demoted admin", &demoted), ("a logged-out fan", &logged_out)] {
            cases.push(case(format!("POST /events by {who}"), "POST", "/events", Some(token), event_body.to_string()));
            let promote = json!({ "role": "admin" }).to_string();
            cases.push(case(
                format!("PUT role by {who}"),
                "PUT",
                format!("/users/{demoted_id}/role"),
                Some(token),
                promote,
            ));
            cases.push(case(
                format!("stats read by {who}"),
                "GET",
                format!("/admin/events/{event}/stats"),
                Some(token),
                "",
            ));
            cases.push(case(format!("bookings listed by {who}"), "GET", "/bookings", Some(token), ""));
        }
        assert!(cases.len() >= 200, "the corpus has {} cases", cases.len());

        let mut failures = Vec::new();
        for case in &cases {
            let mut request =
                client.request(case.method.parse().unwrap(), format!("{base}{}", case.path)).body(case.body.clone());
            for (name, value) in &case.headers {
                request = request.header(*name, value);
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let is_json = response.headers().get("content-type").is_some_and(|v| v == "application/json");
            let text = response.text().await.unwrap_or_default();
            let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            let leaked = LEAKS.iter().find(|marker| text.contains(*marker));
            if !(400..500).contains(&status)
                || !is_json
                || body["success"] != false
                || body["error"]["code"].as_str().is_none()
                || leaked.is_some()
            {
                failures.push(format!("{} → {status} {}", case.name, shared::domain::booking::prefix_of(&text, 200)));
            }
        }
        assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));

        // Nothing changed: no hostile user, no booking on either event but
        // the owner's, the owner's booking untouched, no hostile event.
        assert_eq!(count("SELECT count(*) FROM users_demo.users WHERE email LIKE 'hostile%'").await, users_before);
        let active: Vec<(String, String)> = sqlx::query_as(
            "SELECT s.event_id, b.status FROM bookings_demo.booking_seats s JOIN bookings_demo.bookings b ON b.id = s.booking_id
             WHERE s.event_id = ANY($1)",
        )
        .bind(vec![event.clone(), other_event.clone()])
        .fetch_all(state.pg())
        .await
        .unwrap();
        assert_eq!(active.len(), 1, "only the owner's booking exists: {active:?}");
        assert_eq!(active[0].0, other_event);
        assert!(
            ["PENDING", "RESERVED"].contains(&active[0].1.as_str()),
            "the owner's booking is untouched: {active:?}"
        );
        let events = state
            .mongo()
            .collection::<mongodb::bson::Document>(&format!("{}events", state.config.mongo_collection_prefix));
        assert_eq!(events.count_documents(mongodb::bson::doc! { "name": "Hostile Show" }).await.unwrap(), 0);
        let sales: i64 = sqlx::query_scalar("SELECT count(*) FROM bookings_demo.onsales WHERE event_id = ANY($1)")
            .bind(vec![event.clone(), other_event.clone()])
            .fetch_one(state.pg())
            .await
            .unwrap();
        assert_eq!(sales, 0, "no hostile on-sale was stored");
        let waiting: i64 = sqlx::query_scalar("SELECT count(*) FROM bookings_demo.waitlist WHERE event_id = ANY($1)")
            .bind(vec![event.clone(), other_event.clone()])
            .fetch_one(state.pg())
            .await
            .unwrap();
        assert_eq!(waiting, 0, "nobody joined a waiting list");
    });
}
