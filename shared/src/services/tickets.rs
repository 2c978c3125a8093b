//! E-tickets and door check-in: the owner of a paid booking gets one signed
//! ticket per seat (code and QR), and door staff scan them in, each once.
//!
//! The code is an HS256 JWS under a key of its own (`TICKET_SECRET`, from
//! Secrets Manager on AWS): rotating the login key must not void printed
//! tickets, and a ticket must never pass as a login token or an admission
//! pass. It has no expiry; what voids a ticket is its booking leaving
//! CONFIRMED, which the door asks PostgreSQL at every scan.

use qrcode::{render::svg, EcLevel, QrCode};
use uuid::Uuid;

use crate::{
    auth::{Claims, Hs256},
    config::Config,
    domain::{
        booking::{Booking, BookingStatus},
        event::EventId,
        ticket::{judge, ticket_id, Admitted, CheckInRequest, TicketClaims, TicketView, TicketsView},
    },
    error::ApiError,
    repo::{booking_ports::BookingRepo, CheckInStore},
};

#[derive(Clone)]
pub struct TicketSigner {
    codec: Hs256,
}

fn not_a_ticket() -> ApiError {
    ApiError::refused(http::StatusCode::UNPROCESSABLE_ENTITY, "TICKET_INVALID", "This is not a valid ticket")
}

impl TicketSigner {
    pub fn new(secret: &crate::config::Secret, issuer: &str, api_audience: &str) -> Self {
        let audience = format!("{api_audience}/ticket");
        TicketSigner { codec: Hs256::new(secret, issuer, &audience, &["iat", "iss", "aud"], None) }
    }

    /// The signer of this deployment; `None` without a ticket key (on AWS
    /// only the ticket and check-in functions are given one).
    pub fn from_config(config: &Config) -> Option<Self> {
        let secret = config.ticket_secret.as_ref()?;
        Some(TicketSigner::new(secret, &config.jwt_issuer, &config.jwt_audience))
    }

    pub fn sign(&self, booking: &Booking, seat_label: &str, iat: i64) -> Result<String, ApiError> {
        let claims = TicketClaims {
            tid: ticket_id(booking.id, seat_label),
            bkg: booking.id,
            evt: booking.event_id.to_string(),
            seat: seat_label.to_owned(),
            iat,
            iss: self.codec.issuer().to_owned(),
            aud: self.codec.audience().to_owned(),
        };
        self.codec.sign(&claims, "a ticket")
    }

    /// The claims of a genuine ticket of this deployment. A forged, altered
    /// or foreign code is a 422: the door can tell it from a real ticket
    /// that admits no one.
    pub fn verify(&self, code: &str) -> Result<TicketClaims, ApiError> {
        let claims = self.codec.decode::<TicketClaims>(code).map_err(|_| not_a_ticket())?;
        // Defence in depth: the id is derived from what was signed.
        if claims.tid != ticket_id(claims.bkg, &claims.seat) {
            return Err(not_a_ticket());
        }
        Ok(claims)
    }
}

/// The QR code of a ticket's code, as an SVG document.
pub fn qr_svg(code: &str) -> Result<String, ApiError> {
    let qr = QrCode::with_error_correction_level(code.as_bytes(), EcLevel::M)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("drawing a ticket's QR code: {e}")))?;
    Ok(qr.render::<svg::Color<'_>>().min_dimensions(240, 240).quiet_zone(true).build())
}

/// One ticket per seat of a paid booking. The same booking always gets the
/// same codes (signed with the time it was paid), so the API and the
/// confirmation e-mail hand out identical tickets.
pub fn issue(signer: &TicketSigner, booking: &Booking) -> Result<Vec<TicketView>, ApiError> {
    let iat = booking.updated_at.timestamp();
    booking
        .seats
        .iter()
        .map(|seat| {
            let code = signer.sign(booking, &seat.label, iat)?;
            Ok(TicketView {
                ticket_id: ticket_id(booking.id, &seat.label),
                seat_id: booking.event_id.seat_id(&seat.label),
                label: seat.label.clone(),
                section: seat.section.clone(),
                qr_svg: qr_svg(&code)?,
                code,
            })
        })
        .collect()
}

pub struct Tickets<'a> {
    pub signer: &'a TicketSigner,
    pub bookings: Box<dyn BookingRepo + 'a>,
    pub checkins: Box<dyn CheckInStore + 'a>,
}

impl Tickets<'_> {
    /// The tickets of the caller's own booking, once it is paid.
    pub async fn of_booking(&self, user: &Claims, id: Uuid) -> Result<TicketsView, ApiError> {
        let booking = self
            .bookings
            .find_for_user(user.sub, id)
            .await?
            .ok_or_else(|| ApiError::NotFound("Booking not found".into()))?;
        if booking.status != BookingStatus::Confirmed {
            return Err(ApiError::Refused {
                status: http::StatusCode::CONFLICT,
                code: "NO_TICKETS",
                message: format!("Tickets are issued once a booking is paid; this one is {}", booking.status.as_str()),
                details: Some(serde_json::json!({ "bookingStatus": booking.status.as_str() })),
            });
        }
        let tickets = issue(self.signer, &booking)?;
        Ok(TicketsView { booking_id: booking.id, event_id: booking.event_id.to_string(), tickets })
    }

    /// A scan at a gate of `event`: admitted once, then "already admitted";
    /// refused for a ticket of another event, of a booking that is no
    /// longer paid, or one this box office never signed.
    pub async fn check_in(
        &self,
        staff: &Claims,
        event: &EventId,
        request: CheckInRequest,
    ) -> Result<Admitted, ApiError> {
        let scan = request.parse()?;
        let claims = self.signer.verify(&scan.code)?;
        if claims.evt != event.as_ref() {
            return Err(ApiError::Refused {
                status: http::StatusCode::CONFLICT,
                code: "WRONG_EVENT",
                message: format!("This ticket is for another event ({})", claims.evt),
                details: Some(serde_json::json!({ "eventId": claims.evt })),
            });
        }
        let outcome = self.checkins.check_in(&claims, &scan.gate, staff.sub).await?;
        tracing::info!(ticket.id = %claims.tid, event.id = %event, gate = %scan.gate, outcome = ?outcome, "ticket scanned");
        Ok(judge(&claims, event, &scan.gate, outcome)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{config::Secret, domain::booking::BookedSeat};

    fn signer(key: &str) -> TicketSigner {
        TicketSigner::new(&Secret::new(key.repeat(32)), "issuer", "api")
    }

    fn booking() -> Booking {
        let seat = BookedSeat {
            label: "A1".into(),
            section: "VIP".into(),
            tier: crate::domain::user::Tier::Vip,
            price: crate::domain::money::Cents(100),
        };
        Booking {
            user_id: Uuid::new_v4(),
            event_id: EventId::parse("eras").unwrap(),
            ..Booking::sample(BookingStatus::Confirmed, vec![seat])
        }
    }

    #[test]
    fn a_ticket_verifies_and_names_its_seat() {
        let (signer, booking) = (signer("k"), booking());
        let claims = signer.verify(&signer.sign(&booking, "A1", 0).unwrap()).unwrap();
        assert_eq!((claims.bkg, claims.evt.as_str(), claims.seat.as_str()), (booking.id, "eras", "A1"));
        assert_eq!(claims.tid, ticket_id(booking.id, "A1"));
    }

    #[test]
    fn forged_altered_and_foreign_codes_are_not_tickets() {
        let (signer, booking) = (signer("k"), booking());
        let code = signer.sign(&booking, "A1", 0).unwrap();
        let invalid = |code: &str| signer.verify(code).unwrap_err().code();
        assert_eq!(invalid(&self::signer("other").sign(&booking, "A1", 0).unwrap()), "TICKET_INVALID");
        // Another seat in the claims, the old signature kept.
        let parts: Vec<&str> = code.split('.').collect();
        use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
        let mut claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        claims["seat"] = "A2".into();
        let altered = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(claims.to_string()), parts[2]);
        assert_eq!(invalid(&altered), "TICKET_INVALID");
        let unsigned = format!("{}.{}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#), parts[1]);
        assert_eq!(invalid(&unsigned), "TICKET_INVALID");
        // A login token or an admission pass under the same key is no ticket.
        let keys = crate::auth::JwtKeys::new(
            &Secret::new("k".repeat(32)),
            std::time::Duration::from_secs(60),
            "issuer",
            "api",
        );
        let login = keys.issue(Uuid::new_v4(), "a@b.c", crate::domain::user::Role::Admin, Default::default()).unwrap();
        assert_eq!(invalid(&login), "TICKET_INVALID");
        assert_eq!(invalid("garbage"), "TICKET_INVALID");
    }

    #[test]
    fn the_qr_code_is_an_svg_of_the_code() {
        let svg = qr_svg("eyJhbGciOiJIUzI1NiJ9.e30.abc").unwrap();
        assert!(svg.starts_with("<?xml") && svg.contains("<svg"), "{}", &svg[..80]);
    }
}
