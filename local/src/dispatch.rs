//! The function crates linked into the gateway, by binary name, written
//! once in `functions!` below: the name lists, the handler calls and the
//! AWS access table all follow from it. A function added to template.yaml
//! must be listed here too; the parity test in tests/ and the check at
//! start-up both fail until it is.

use lambda_http::{Body, Error, Request, Response};
use shared::{aws_access::Access, State};

/// One entry per function crate: its binary name and crate, by how it is
/// invoked (HTTP route, Kafka topic, schedule, or only by CloudFormation).
macro_rules! functions {
    (
        http: { $($http_name:literal => $http:ident),* $(,)? }
        kafka: { $($kafka_name:literal => $kafka:ident),* $(,)? }
        scheduled: { $($scheduled_name:literal => $scheduled:ident),* $(,)? }
        deploy_only: { $($deploy_name:literal => $deploy:ident),* $(,)? }
    ) => {
        /// Functions behind the HTTP API.
        pub const HTTP_FUNCTIONS: &[&str] = &[$($http_name),*];

        /// Functions fed by Kafka through the event-source-mapping emulator.
        pub const KAFKA_FUNCTIONS: &[&str] = &[$($kafka_name),*];

        /// Functions fired by the schedule emulator.
        pub const SCHEDULED_FUNCTIONS: &[&str] = &[$($scheduled_name),*];

        /// Calls an HTTP function's handler in-process; `None` if no such
        /// function is linked.
        pub async fn invoke_http(function: &str, state: &State, req: Request) -> Option<Result<Response<Body>, Error>> {
            Some(match function {
                $($http_name => $http::handle(state, req).await,)*
                _ => return None,
            })
        }

        /// Calls a Kafka consumer's handler in-process with an MSK event,
        /// exactly as the Lambda runtime would; `None` if no such function
        /// is linked.
        pub async fn invoke_kafka(
            function: &str,
            state: &State,
            event: aws_lambda_events::event::kafka::KafkaEvent,
        ) -> Option<Result<serde_json::Value, Error>> {
            let event = lambda_http::LambdaEvent::new(event, lambda_http::Context::default());
            let report = match function {
                $($kafka_name => $kafka::handle(state, event).await,)*
                _ => return None,
            };
            Some(report.map(|r| serde_json::to_value(r).unwrap_or_default()))
        }

        /// Fires a scheduled function with an EventBridge-style event.
        pub async fn invoke_scheduled(function: &str, state: &State) -> Option<Result<serde_json::Value, Error>> {
            let payload =
                serde_json::json!({ "source": "aws.events", "detail-type": "Scheduled Event", "detail": {} });
            let event = lambda_http::LambdaEvent::new(payload, lambda_http::Context::default());
            let report = match function {
                $($scheduled_name => $scheduled::handle(state, event).await,)*
                _ => return None,
            };
            Some(report.map(|r| serde_json::to_value(r).unwrap_or_default()))
        }

        /// What each function's code calls of AWS (its `AWS_ACCESS`), for
        /// the deploy rehearsal's check of the roles; `None` for an unknown
        /// name.
        pub fn aws_access(function: &str) -> Option<Access> {
            Some(match function {
                $($http_name => $http::AWS_ACCESS,)*
                $($kafka_name => $kafka::AWS_ACCESS,)*
                $($scheduled_name => $scheduled::AWS_ACCESS,)*
                $($deploy_name => $deploy::AWS_ACCESS,)*
                _ => return None,
            })
        }
    };
}

functions! {
    http: {
        "api-docs" => api_docs,
        "auth-login" => auth_login,
        "auth-logout" => auth_logout,
        "auth-password-reset" => auth_password_reset,
        "auth-password-reset-confirm" => auth_password_reset_confirm,
        "auth-register" => auth_register,
        "auth-verify" => auth_verify,
        "auth-verify-resend" => auth_verify_resend,
        "bookings-cancel" => bookings_cancel,
        "bookings-create" => bookings_create,
        "bookings-get" => bookings_get,
        "bookings-list" => bookings_list,
        "bookings-pay" => bookings_pay,
        "bookings-tickets" => bookings_tickets,
        "events-checkin" => events_checkin,
        "events-create" => events_create,
        "events-get" => events_get,
        "events-list" => events_list,
        "events-onsale" => events_onsale,
        "events-seats" => events_seats,
        "events-staff-assign" => events_staff_assign,
        "events-staff-remove" => events_staff_remove,
        "events-stats" => events_stats,
        "health" => health,
        "queue-join" => queue_join,
        "queue-line" => queue_line,
        "queue-status" => queue_status,
        "users-role" => users_role,
        "waitlist-join" => waitlist_join,
        "waitlist-leave" => waitlist_leave,
        "waitlist-place" => waitlist_place,
    }
    kafka: {
        "analytics" => analytics,
        "booking-status" => booking_status,
        "notifier" => notifier,
        "seat-projector" => seat_projector,
        "seat-reserver" => seat_reserver,
        "waitlist-offerer" => waitlist_offerer,
    }
    scheduled: {
        "booking-sweeper" => booking_sweeper,
    }
    deploy_only: {
        "migrator" => migrator,
    }
}
