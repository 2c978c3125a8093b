//! The one error type every handler returns, and its mapping to HTTP.
//!
//! Handlers and services use `?` and never build error bodies. The domain
//! has error types of its own (`Invalid`, `NoSuchPlace`, `Unadmitted`,
//! `UnknownStatus`), converted here, so it knows nothing of HTTP. The mapping
//! to status code, error code and JSON envelope happens once, in
//! [`crate::http::respond`]. Unexpected errors keep their cause chain for the
//! log and show the client only a generic message.

use std::time::Duration;

use http::StatusCode;
use serde_json::Value;

pub use crate::domain::fields::FieldErrors;
use crate::domain::{fields::Invalid, onsale::NoSuchPlace, ticket::Unadmitted};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("Request validation failed")]
    Validation(FieldErrors),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    /// A refusal with a code of its own, for answers a client acts on
    /// differently (join the queue, wait for the opening, a ticket already
    /// used…); `details` says more where there is more to say.
    #[error("{message}")]
    Refused { status: StatusCode, code: &'static str, message: String, details: Option<Value> },
    #[error("{0}")]
    NotFound(String),
    /// The route exists, not with this method (the gateway's answer).
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{message}")]
    Conflict { message: String, details: Option<Value> },
    #[error("Request body exceeds the {limit} byte limit")]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    PaymentRequired(String),
    #[error("{0}")]
    Unprocessable(String),
    #[error("Too many requests; retry after {} seconds", retry_after.as_secs())]
    TooManyRequests { retry_after: Duration },
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn validation(field: &str, problem: &str) -> Self {
        ApiError::Validation(FieldErrors::from([(field.to_owned(), problem.to_owned())]))
    }

    /// A 403 with its own code.
    pub fn denied(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::refused(StatusCode::FORBIDDEN, code, message)
    }

    pub fn refused(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Refused { status, code, message: message.into(), details: None }
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        ApiError::Conflict { message: message.into(), details: None }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::Validation(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Refused { status, .. } => *status,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::PaymentRequired(_) => StatusCode::PAYMENT_REQUIRED,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Stable, machine-readable code for clients to branch on.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "BAD_REQUEST",
            ApiError::Validation(_) => "VALIDATION_ERROR",
            ApiError::Unauthorized(_) => "UNAUTHORIZED",
            ApiError::Forbidden(_) => "FORBIDDEN",
            ApiError::Refused { code, .. } => code,
            ApiError::NotFound(_) => "NOT_FOUND",
            ApiError::MethodNotAllowed(_) => "METHOD_NOT_ALLOWED",
            ApiError::Conflict { .. } => "CONFLICT",
            ApiError::PayloadTooLarge { .. } => "PAYLOAD_TOO_LARGE",
            ApiError::PaymentRequired(_) => "PAYMENT_DECLINED",
            ApiError::Unprocessable(_) => "UNPROCESSABLE",
            ApiError::TooManyRequests { .. } => "TOO_MANY_REQUESTS",
            ApiError::Unavailable(_) => "SERVICE_UNAVAILABLE",
            ApiError::Internal(_) => "INTERNAL_ERROR",
        }
    }

    /// The message a client sees. Internal errors never expose their cause.
    pub fn public_message(&self) -> String {
        match self {
            ApiError::Internal(_) => "An unexpected error occurred".to_owned(),
            other => other.to_string(),
        }
    }

    pub fn details(&self) -> Option<Value> {
        match self {
            ApiError::Validation(fields) => Some(serde_json::json!({ "fields": fields })),
            ApiError::Conflict { details, .. } | ApiError::Refused { details, .. } => details.clone(),
            _ => None,
        }
    }
}

/// Storage errors become 503 when the store is unreachable (the client may
/// retry) and 500 otherwise.
impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        match err {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                tracing::error!(error.message = %err, "postgres unavailable");
                ApiError::Unavailable("The database is temporarily unavailable".into())
            }
            other => ApiError::Internal(anyhow::Error::new(other).context("postgres query failed")),
        }
    }
}

impl From<redis::RedisError> for ApiError {
    fn from(err: redis::RedisError) -> Self {
        if err.is_io_error() || err.is_connection_dropped() || err.is_timeout() || err.is_connection_refusal() {
            tracing::error!(error.message = %err, "redis unavailable");
            ApiError::Unavailable("The cache is temporarily unavailable".into())
        } else {
            ApiError::Internal(anyhow::Error::new(err).context("redis command failed"))
        }
    }
}

impl From<mongodb::error::Error> for ApiError {
    fn from(err: mongodb::error::Error) -> Self {
        use mongodb::error::ErrorKind;
        match *err.kind {
            ErrorKind::ServerSelection { .. } | ErrorKind::Io(_) | ErrorKind::ConnectionPoolCleared { .. } => {
                tracing::error!(error.message = %err, "mongo unavailable");
                ApiError::Unavailable("The events store is temporarily unavailable".into())
            }
            _ => ApiError::Internal(anyhow::Error::new(err).context("mongo operation failed")),
        }
    }
}

/// The domain's refusals, as the API answers them.
impl From<Invalid> for ApiError {
    fn from(invalid: Invalid) -> Self {
        ApiError::Validation(invalid.0)
    }
}

impl From<NoSuchPlace> for ApiError {
    fn from(_: NoSuchPlace) -> Self {
        ApiError::NotFound(NoSuchPlace.to_string())
    }
}

impl From<Unadmitted> for ApiError {
    fn from(refusal: Unadmitted) -> Self {
        let (code, message, details) = match refusal {
            Unadmitted::AlreadyAdmitted { seat_id, at, gate } => (
                "ALREADY_ADMITTED",
                format!("Ticket for {seat_id} was already admitted at {} (gate {gate})", at.to_rfc3339()),
                Some(serde_json::json!({ "checkedInAt": at, "gate": gate, "seatId": seat_id })),
            ),
            Unadmitted::Void { status } => (
                "TICKET_VOID",
                match status {
                    Some(status) => format!("The booking of this ticket is {}; it admits no one", status.as_str()),
                    None => "This ticket names no seat of its booking".to_owned(),
                },
                status.map(|s| serde_json::json!({ "bookingStatus": s.as_str() })),
            ),
        };
        ApiError::Refused { status: StatusCode::CONFLICT, code, message, details }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_its_status_and_code() {
        let cases = [
            (ApiError::BadRequest("x".into()), 400, "BAD_REQUEST"),
            (ApiError::validation("email", "is required"), 400, "VALIDATION_ERROR"),
            (ApiError::Unauthorized("x".into()), 401, "UNAUTHORIZED"),
            (ApiError::Forbidden("x".into()), 403, "FORBIDDEN"),
            (ApiError::denied("SALE_NOT_OPEN", "x"), 403, "SALE_NOT_OPEN"),
            (ApiError::NotFound("x".into()), 404, "NOT_FOUND"),
            (ApiError::MethodNotAllowed("x".into()), 405, "METHOD_NOT_ALLOWED"),
            (ApiError::conflict("x"), 409, "CONFLICT"),
            (ApiError::PayloadTooLarge { limit: 1 }, 413, "PAYLOAD_TOO_LARGE"),
            (ApiError::PaymentRequired("x".into()), 402, "PAYMENT_DECLINED"),
            (ApiError::Unprocessable("x".into()), 422, "UNPROCESSABLE"),
            (ApiError::TooManyRequests { retry_after: Duration::from_secs(3) }, 429, "TOO_MANY_REQUESTS"),
            (ApiError::Unavailable("x".into()), 503, "SERVICE_UNAVAILABLE"),
            (ApiError::Internal(anyhow::anyhow!("boom")), 500, "INTERNAL_ERROR"),
        ];
        for (err, status, code) in cases {
            assert_eq!(err.status().as_u16(), status, "{err:?}");
            assert_eq!(err.code(), code);
        }
    }

    #[test]
    fn the_domain_s_refusals_become_their_answers() {
        let invalid = ApiError::from(Invalid::field("seatIds", "must list at least one seat"));
        assert_eq!((invalid.status().as_u16(), invalid.code()), (400, "VALIDATION_ERROR"));
        assert_eq!(ApiError::from(NoSuchPlace).status().as_u16(), 404);
        let at = chrono::Utc::now();
        let again = Unadmitted::AlreadyAdmitted { seat_id: "eras_A1".into(), at, gate: "south".into() };
        let err = ApiError::from(again);
        assert_eq!((err.status().as_u16(), err.code()), (409, "ALREADY_ADMITTED"));
        assert_eq!(err.details().unwrap()["gate"], "south");
        let void = Unadmitted::Void { status: Some(crate::domain::booking::BookingStatus::Cancelled) };
        let err = ApiError::from(void);
        assert_eq!((err.code(), err.details().unwrap()["bookingStatus"].as_str()), ("TICKET_VOID", Some("CANCELLED")));
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let err = ApiError::Internal(anyhow::anyhow!("password authentication failed for user postgres"));
        assert_eq!(err.public_message(), "An unexpected error occurred");
    }

    #[test]
    fn validation_details_name_each_field() {
        let mut fields = FieldErrors::new();
        fields.insert("email".into(), "is required".into());
        fields.insert("password".into(), "must be at least 8 characters".into());
        let details = ApiError::Validation(fields).details().unwrap();
        assert_eq!(details["fields"]["email"], "is required");
        assert_eq!(details["fields"]["password"], "must be at least 8 characters");
    }
}
