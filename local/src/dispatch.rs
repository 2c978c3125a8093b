//! The function crates linked into the gateway, by binary name. A function
//! added to template.yaml must be added here too; the parity test in tests/
//! and the check at start-up both fail until it is.

use lambda_http::{Body, Error, Request, Response};
use shared::{aws_access::Access, State};

pub const HTTP_FUNCTIONS: &[&str] = &[
    "api-docs",
    "auth-login",
    "auth-register",
    "bookings-cancel",
    "bookings-create",
    "bookings-get",
    "bookings-list",
    "bookings-pay",
    "bookings-tickets",
    "events-checkin",
    "events-create",
    "events-get",
    "events-list",
    "events-onsale",
    "events-seats",
    "health",
    "queue-join",
    "queue-line",
    "queue-status",
    "users-role",
    "waitlist-join",
    "waitlist-leave",
    "waitlist-place",
];

/// Functions fed by Kafka through the event-source-mapping emulator.
pub const KAFKA_FUNCTIONS: &[&str] =
    &["booking-status", "notifier", "seat-projector", "seat-reserver", "waitlist-offerer"];

/// Functions fired by the schedule emulator.
pub const SCHEDULED_FUNCTIONS: &[&str] = &["booking-sweeper"];

/// Calls an HTTP function's handler in-process; `None` if no such function
/// is linked.
pub async fn invoke_http(function: &str, state: &State, req: Request) -> Option<Result<Response<Body>, Error>> {
    Some(match function {
        "api-docs" => api_docs::handle(state, req).await,
        "auth-login" => auth_login::handle(state, req).await,
        "auth-register" => auth_register::handle(state, req).await,
        "bookings-cancel" => bookings_cancel::handle(state, req).await,
        "bookings-create" => bookings_create::handle(state, req).await,
        "bookings-get" => bookings_get::handle(state, req).await,
        "bookings-list" => bookings_list::handle(state, req).await,
        "bookings-pay" => bookings_pay::handle(state, req).await,
        "bookings-tickets" => bookings_tickets::handle(state, req).await,
        "events-checkin" => events_checkin::handle(state, req).await,
        "events-create" => events_create::handle(state, req).await,
        "events-get" => events_get::handle(state, req).await,
        "events-list" => events_list::handle(state, req).await,
        "events-onsale" => events_onsale::handle(state, req).await,
        "events-seats" => events_seats::handle(state, req).await,
        "health" => health::handle(state, req).await,
        "queue-join" => queue_join::handle(state, req).await,
        "queue-line" => queue_line::handle(state, req).await,
        "queue-status" => queue_status::handle(state, req).await,
        "users-role" => users_role::handle(state, req).await,
        "waitlist-join" => waitlist_join::handle(state, req).await,
        "waitlist-leave" => waitlist_leave::handle(state, req).await,
        "waitlist-place" => waitlist_place::handle(state, req).await,
        _ => return None,
    })
}

/// Calls a Kafka consumer's handler in-process with an MSK event, exactly
/// as the Lambda runtime would; `None` if no such function is linked.
pub async fn invoke_kafka(
    function: &str,
    state: &State,
    event: aws_lambda_events::event::kafka::KafkaEvent,
) -> Option<Result<serde_json::Value, Error>> {
    let event = lambda_http::LambdaEvent::new(event, lambda_http::Context::default());
    let report = match function {
        "booking-status" => booking_status::handle(state, event).await,
        "notifier" => notifier::handle(state, event).await,
        "seat-projector" => seat_projector::handle(state, event).await,
        "seat-reserver" => seat_reserver::handle(state, event).await,
        "waitlist-offerer" => waitlist_offerer::handle(state, event).await,
        _ => return None,
    };
    Some(report.map(|r| serde_json::to_value(r).unwrap_or_default()))
}

/// Fires a scheduled function with an EventBridge-style event.
pub async fn invoke_scheduled(function: &str, state: &State) -> Option<Result<serde_json::Value, Error>> {
    let payload = serde_json::json!({ "source": "aws.events", "detail-type": "Scheduled Event", "detail": {} });
    let event = lambda_http::LambdaEvent::new(payload, lambda_http::Context::default());
    match function {
        "booking-sweeper" => {
            Some(booking_sweeper::handle(state, event).await.map(|r| serde_json::to_value(r).unwrap_or_default()))
        }
        _ => None,
    }
}

/// What each function's code calls of AWS (its `AWS_ACCESS`), for the
/// deploy rehearsal's check of the roles; `None` for an unknown name.
pub fn aws_access(function: &str) -> Option<Access> {
    Some(match function {
        "api-docs" => api_docs::AWS_ACCESS,
        "auth-login" => auth_login::AWS_ACCESS,
        "auth-register" => auth_register::AWS_ACCESS,
        "bookings-cancel" => bookings_cancel::AWS_ACCESS,
        "bookings-create" => bookings_create::AWS_ACCESS,
        "bookings-get" => bookings_get::AWS_ACCESS,
        "bookings-list" => bookings_list::AWS_ACCESS,
        "bookings-pay" => bookings_pay::AWS_ACCESS,
        "bookings-tickets" => bookings_tickets::AWS_ACCESS,
        "events-checkin" => events_checkin::AWS_ACCESS,
        "events-create" => events_create::AWS_ACCESS,
        "events-get" => events_get::AWS_ACCESS,
        "events-list" => events_list::AWS_ACCESS,
        "events-onsale" => events_onsale::AWS_ACCESS,
        "events-seats" => events_seats::AWS_ACCESS,
        "health" => health::AWS_ACCESS,
        "queue-join" => queue_join::AWS_ACCESS,
        "queue-line" => queue_line::AWS_ACCESS,
        "queue-status" => queue_status::AWS_ACCESS,
        "users-role" => users_role::AWS_ACCESS,
        "waitlist-join" => waitlist_join::AWS_ACCESS,
        "waitlist-leave" => waitlist_leave::AWS_ACCESS,
        "waitlist-place" => waitlist_place::AWS_ACCESS,
        "waitlist-offerer" => waitlist_offerer::AWS_ACCESS,
        "booking-status" => booking_status::AWS_ACCESS,
        "notifier" => notifier::AWS_ACCESS,
        "seat-projector" => seat_projector::AWS_ACCESS,
        "seat-reserver" => seat_reserver::AWS_ACCESS,
        "booking-sweeper" => booking_sweeper::AWS_ACCESS,
        "migrator" => migrator::AWS_ACCESS,
        _ => return None,
    })
}
