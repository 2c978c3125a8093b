//! E-tickets, the door and door-staff roles against the real stores:
//! tickets exist once a booking is paid, verify, and admit exactly once
//! however many gates scan them together; forged, foreign and voided
//! tickets are refused and change nothing.

use serde_json::{json, Value};
use shared::domain::user::Role;
use uuid::Uuid;

use crate::common::*;

/// `method path` on the suite's state as `token`'s holder.
async fn as_user(method: &str, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    call(&*state().await, method, path, Some(token), body.as_ref()).await
}

/// A paid booking of `seats` seats on a new event: (event, booking, owner's token).
async fn paid_booking(seats: &[&str]) -> (String, String, String) {
    let state = state().await;
    let event = create_event(&state, 20, 30).await;
    let owner = token_for(&state, Uuid::new_v4(), Role::User);
    let seat_ids: Vec<String> = seats.iter().map(|s| format!("{event}_{s}")).collect();
    let (status, booking) =
        call(&state, "POST", "/bookings", Some(&owner), Some(&json!({ "eventId": event, "seatIds": seat_ids }))).await;
    assert_eq!(status, 201, "{booking}");
    let id = booking["data"]["id"].as_str().unwrap().to_owned();
    let card = json!({ "paymentMethod": { "type": "card", "cardNumber": "4242 4242 4242 4242" } });
    let (status, paid) = call(&state, "POST", &format!("/bookings/{id}/pay"), Some(&owner), Some(&card)).await;
    assert_eq!(status, 200, "{paid}");
    (event, id, owner)
}

async fn tickets_of(booking: &str, owner: &str) -> Vec<Value> {
    let (status, body) = as_user("GET", &format!("/bookings/{}/tickets", booking), owner, None).await;
    assert_eq!(status, 200, "{body}");
    body["data"]["tickets"].as_array().unwrap().clone()
}

/// A door-staff token for a staff account assigned to `event` (written
/// straight to the table: the admin route is tested below).
async fn staff_of(state: &State, event: &str) -> String {
    let id = Uuid::new_v4();
    sqlx::query("INSERT INTO bookings_demo.event_staff (event_id, user_id, assigned_by) VALUES ($1, $2, $2)")
        .bind(event)
        .bind(id)
        .execute(state.pg())
        .await
        .unwrap();
    token_for(state, id, Role::Staff)
}

async fn scan(event: &str, code: &str, gate: &str, staff: &str) -> (u16, Value) {
    as_user("POST", &format!("/events/{}/checkin", event), staff, Some(json!({ "code": code, "gate": gate }))).await
}

async fn checkins_of(ticket: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM bookings_demo.checkins WHERE ticket_id = $1::uuid")
        .bind(ticket)
        .fetch_one(state().await.pg())
        .await
        .unwrap()
}

#[test]
fn a_paid_booking_has_one_verifiable_ticket_per_seat_for_its_owner_only() {
    run(async {
        let state = state().await;
        let event = create_event(&state, 20, 30).await;
        let owner = token_for(&state, Uuid::new_v4(), Role::User);
        let body = json!({ "eventId": event, "seatIds": [format!("{event}_A1"), format!("{event}_A2")] });
        let (_, booking) = call(&state, "POST", "/bookings", Some(&owner), Some(&body)).await;
        let id = booking["data"]["id"].as_str().unwrap();
        let (status, body) = as_user("GET", &format!("/bookings/{}/tickets", id), &owner, None).await;
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("NO_TICKETS")), "unpaid: {body}");

        let card = json!({ "paymentMethod": { "type": "card", "cardNumber": "4242 4242 4242 4242" } });
        assert_eq!(call(&state, "POST", &format!("/bookings/{id}/pay"), Some(&owner), Some(&card)).await.0, 200);
        let tickets = tickets_of(id, &owner).await;
        assert_eq!(tickets.len(), 2);
        let signer = shared::tickets::TicketSigner::from_config(&state.config).unwrap();
        for (ticket, label) in tickets.iter().zip(["A1", "A2"]) {
            let claims = signer.verify(ticket["code"].as_str().unwrap()).unwrap();
            assert_eq!((claims.seat.as_str(), claims.evt.as_str()), (label, event.as_str()));
            assert_eq!(ticket["ticketId"], claims.tid.to_string());
            assert!(ticket["qrSvg"].as_str().unwrap().contains("<svg"));
        }
        assert_eq!(tickets_of(id, &owner).await[0]["ticketId"], tickets[0]["ticketId"], "the same ticket every time");
        let stranger = token_for(&state, Uuid::new_v4(), Role::User);
        assert_eq!(as_user("GET", &format!("/bookings/{}/tickets", id), &stranger, None).await.0, 404);
        assert_eq!(as_user("GET", "/bookings/not-a-uuid/tickets", &owner, None).await.0, 400);
    })
}

#[test]
fn twenty_gates_scanning_one_ticket_admit_it_exactly_once() {
    run(async {
        let state = state().await;
        let (event, booking, owner) = paid_booking(&["B1"]).await;
        let ticket = tickets_of(&booking, &owner).await.remove(0);
        let code = ticket["code"].as_str().unwrap().to_owned();
        let staff = staff_of(&state, &event).await;
        let scans = (0..20).map(|gate| {
            let (event, code, staff) = (event.clone(), code.clone(), staff.clone());
            async move { scan(&event, &code, &format!("gate {gate}"), &staff).await }
        });
        let answers = futures::future::join_all(scans).await;
        let admitted: Vec<&Value> = answers.iter().filter(|(s, _)| *s == 200).map(|(_, b)| b).collect();
        assert_eq!(admitted.len(), 1, "{answers:?}");
        let gate = admitted[0]["data"]["gate"].as_str().unwrap();
        for (status, body) in answers.iter().filter(|(s, _)| *s != 200) {
            assert_eq!((*status, body["error"]["code"].as_str()), (409, Some("ALREADY_ADMITTED")), "{body}");
            assert_eq!(body["error"]["details"]["gate"], gate, "every refusal names the gate that admitted it");
        }
        assert_eq!(checkins_of(ticket["ticketId"].as_str().unwrap()).await, 1);
        // The organisers' dashboard counts the door once too.
        let (status, stats) = as_user(
            "GET",
            &format!("/admin/events/{}/stats", &event),
            &token_for(&state, Uuid::new_v4(), Role::Admin),
            None,
        )
        .await;
        assert_eq!((status, &stats["data"]["admitted"]), (200, &json!(1)), "{stats}");
    })
}

#[test]
fn forged_foreign_and_voided_tickets_are_refused_and_change_nothing() {
    run(async {
        let state = state().await;
        let (event, booking, owner) = paid_booking(&["A3", "A4"]).await;
        let tickets = tickets_of(&booking, &owner).await;
        let code = tickets[0]["code"].as_str().unwrap();
        let staff = staff_of(&state, &event).await;

        let (status, _) = scan(&event, code, "north", &token_for(&state, Uuid::new_v4(), Role::User)).await;
        assert_eq!(status, 403, "a fan cannot check tickets in");
        let (signed, signature) = code.rsplit_once('.').unwrap();
        let other = if signature.starts_with('A') { 'B' } else { 'A' };
        let forged = format!("{signed}.{other}{}", &signature[1..]);
        let (status, body) = scan(&event, &forged, "north", &staff).await;
        assert_eq!((status, body["error"]["code"].as_str()), (422, Some("TICKET_INVALID")), "{body}");
        let (status, body) = scan(&event, owner.trim_start_matches("Bearer "), "north", &staff).await;
        assert_eq!((status, body["error"]["code"].as_str()), (422, Some("TICKET_INVALID")), "a login token: {body}");
        let elsewhere = create_event(&state, 20, 30).await;
        // Staff of the other event, who may scan there, but not this ticket.
        let (status, body) = scan(&elsewhere, code, "north", &staff_of(&state, &elsewhere).await).await;
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("WRONG_EVENT")), "{body}");
        // This event's staff cannot even try at the other event's door.
        let (status, body) = scan(&elsewhere, code, "north", &staff).await;
        assert_eq!((status, body["error"]["code"].as_str()), (403, Some("NOT_ASSIGNED")), "{body}");
        let (status, body) =
            as_user("POST", &format!("/events/{}/checkin", &event), &staff, Some(json!({ "gate": "x" }))).await;
        assert_eq!((status, body["error"]["details"]["fields"].get("code").is_some()), (400, true), "{body}");

        // Cancelling the paid booking refunds it and voids its tickets.
        let (status, _) = call(&state, "PUT", &format!("/bookings/{booking}/cancel"), Some(&owner), None).await;
        assert_eq!(status, 200);
        let (status, body) = scan(&event, code, "north", &staff).await;
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("TICKET_VOID")), "{body}");
        assert_eq!(body["error"]["details"]["bookingStatus"], "CANCELLED");
        for ticket in &tickets {
            assert_eq!(checkins_of(ticket["ticketId"].as_str().unwrap()).await, 0);
        }
        assert_eq!(as_user("GET", &format!("/bookings/{}/tickets", &booking), &owner, None).await.0, 409);
    })
}

#[test]
fn an_admin_makes_door_staff_who_can_then_check_tickets_in() {
    run(async {
        let state = state().await;
        let email = unique_email("door");
        let (status, registered) = register(&state, &email, "door-staff-pass").await;
        assert_eq!(status, 202, "{registered}");
        let (_, session) = login(&state, &email, "door-staff-pass").await;
        let id = session["data"]["user"]["id"].as_str().unwrap().to_owned();
        let admin_id = Uuid::new_v4();
        let admin = token_for(&state, admin_id, Role::Admin);

        let set = |token: String, id: String, body: Value| async move {
            as_user("PUT", &format!("/users/{}/role", &id), &token, Some(body)).await
        };
        let fan = token_for(&state, Uuid::new_v4(), Role::User);
        assert_eq!(set(fan, id.clone(), json!({ "role": "staff" })).await.0, 403);
        let (status, body) = set(admin.clone(), id.clone(), json!({ "role": "janitor" })).await;
        assert_eq!(
            (status, body["error"]["details"]["fields"]["role"].as_str()),
            (400, Some("must be one of user, staff, admin"))
        );
        assert_eq!(set(admin.clone(), Uuid::new_v4().to_string(), json!({ "role": "staff" })).await.0, 404);
        assert_eq!(set(admin.clone(), admin_id.to_string(), json!({ "role": "user" })).await.0, 409, "not your own");
        let (status, body) = set(admin.clone(), id.clone(), json!({ "role": "staff" })).await;
        assert_eq!((status, body["data"]["role"].as_str()), (200, Some("staff")), "{body}");

        // The new role is in the next login's token, and it opens the door.
        let (_, login) = login(&state, &email, "door-staff-pass").await;
        assert_eq!(login["data"]["user"]["role"], "staff");
        let staff = format!("Bearer {}", login["data"]["token"].as_str().unwrap());
        let (event, booking, owner) = paid_booking(&["B5"]).await;
        let code = tickets_of(&booking, &owner).await[0]["code"].as_str().unwrap().to_owned();
        // The role alone admits nothing: an admin assigns them to this event.
        let (status, body) = scan(&event, &code, "east", &staff).await;
        assert_eq!((status, body["error"]["code"].as_str()), (403, Some("NOT_ASSIGNED")), "{body}");
        let assign = format!("/events/{event}/staff/{id}");
        let (status, body) = as_user("PUT", &assign, &admin, None).await;
        assert_eq!((status, body["data"]["created"].as_bool()), (200, Some(true)), "{body}");
        let (status, body) = scan(&event, &code, "east", &staff).await;
        assert_eq!((status, body["data"]["status"].as_str()), (200, Some("admitted")), "{body}");
        // Staff is not admin.
        let sale = json!({ "opensAt": chrono::Utc::now().to_rfc3339() });
        assert_eq!(call(&state, "PUT", &format!("/events/{event}/onsale"), Some(&staff), Some(&sale)).await.0, 403);
    })
}

/// Money after the fact: once the door admitted a ticket of a booking, the
/// booking can no longer be cancelled or refunded, and its seat stays sold.
#[test]
fn a_booking_whose_ticket_was_used_at_the_door_cannot_be_cancelled_or_refunded() {
    run(async {
        let state = state().await;
        let (event, booking, owner) = paid_booking(&["A3", "A4"]).await;
        let ticket = tickets_of(&booking, &owner).await.remove(0);
        let staff = staff_of(&state, &event).await;
        assert_eq!(scan(&event, ticket["code"].as_str().unwrap(), "north", &staff).await.0, 200);
        let (status, refused) = as_user("PUT", &format!("/bookings/{booking}/cancel"), &owner, None).await;
        assert_eq!((status, refused["error"]["code"].as_str()), (409, Some("TICKET_USED")), "{refused}");
        let (status, kept) = as_user("GET", &format!("/bookings/{booking}"), &owner, None).await;
        assert_eq!((status, kept["data"]["status"].as_str()), (200, Some("CONFIRMED")), "{kept}");
        let refunds: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM bookings_demo.payments WHERE booking_id = $1::uuid AND status <> 'SUCCEEDED'",
        )
        .bind(&booking)
        .fetch_one(state.pg())
        .await
        .unwrap();
        assert_eq!(refunds, 0, "no refund owed or paid");
        assert!(active_seats(&state, &event).await.contains_key("A4"), "the seat is not back on sale");
    })
}

/// A scan and a cancel of the same paid booking, racing: they serialise on
/// the booking's row, so each round ends either admitted and not refunded,
/// or cancelled and not admitted, never both.
#[test]
fn a_scan_racing_a_cancel_lets_exactly_one_of_them_win() {
    run(async {
        let state = state().await;
        let mut outcomes = std::collections::BTreeMap::<&str, u32>::new();
        for _ in 0..12 {
            let (event, booking, owner) = paid_booking(&["A5"]).await;
            let code = tickets_of(&booking, &owner).await.remove(0)["code"].as_str().unwrap().to_owned();
            let staff = staff_of(&state, &event).await;
            let cancel_path = format!("/bookings/{booking}/cancel");
            let (scanned, cancelled) =
                tokio::join!(scan(&event, &code, "east", &staff), as_user("PUT", &cancel_path, &owner, None));
            let (status, admitted): (String, i64) = sqlx::query_as(
                "SELECT b.status, (SELECT count(*) FROM bookings_demo.checkins c WHERE c.booking_id = b.id)
                   FROM bookings_demo.bookings b WHERE b.id = $1::uuid",
            )
            .bind(&booking)
            .fetch_one(state.pg())
            .await
            .unwrap();
            let outcome = match (scanned.0, cancelled.0) {
                (200, 409) => {
                    assert_eq!((status.as_str(), admitted), ("CONFIRMED", 1), "{cancelled:?}");
                    "admitted"
                }
                (409, 200) => {
                    assert_eq!((status.as_str(), admitted), ("CANCELLED", 0), "{scanned:?}");
                    "cancelled"
                }
                other => panic!("both or neither won: {other:?} {scanned:?} {cancelled:?} ({status}, {admitted})"),
            };
            *outcomes.entry(outcome).or_default() += 1;
        }
        assert_eq!(outcomes.values().sum::<u32>(), 12, "{outcomes:?}");
    })
}
