//! E-tickets and the door, as rules. A ticket is not a stored thing: it is a
//! signed claim on one seat of one booking, valid while that booking is
//! CONFIRMED, and admitted at most once. The signing is in
//! [`crate::tickets`]; the once-only record is a [`crate::repo::CheckInStore`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{booking::BookingStatus, event::EventId, fields::Invalid};

/// Ticket ids are derived, not drawn: the same booking and seat give the
/// same id on every request, so a ticket shown twice is one ticket.
const TICKET_NAMESPACE: Uuid = Uuid::from_u128(0x6b1e_5c2a_0f4d_4e8b_9a37_2d0c_81f4_e6a5);

pub fn ticket_id(booking: Uuid, seat_label: &str) -> Uuid {
    Uuid::new_v5(&TICKET_NAMESPACE, format!("{booking}/{seat_label}").as_bytes())
}

/// What a ticket's code carries, signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketClaims {
    pub tid: Uuid,
    pub bkg: Uuid,
    pub evt: String,
    pub seat: String,
    pub iat: i64,
    pub iss: String,
    pub aud: String,
}

/// The body of `POST /events/{id}/checkin`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckInRequest {
    pub code: Option<String>,
    pub gate: Option<String>,
}

/// A scan, checked for shape: the code as scanned and the gate's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    pub code: String,
    pub gate: String,
}

/// A ticket code is a compact JWS; anything far longer was not made here.
const MAX_CODE_CHARS: usize = 2048;
const MAX_GATE_CHARS: usize = 64;

impl CheckInRequest {
    pub fn parse(self) -> Result<Scan, Invalid> {
        let mut check = super::fields::FieldCheck::default();
        let code = check.required("code", self.code.as_deref().map(str::trim), |code| {
            if code.is_empty() || code.len() > MAX_CODE_CHARS {
                Err("must be the code of a ticket")
            } else {
                Ok(code.to_owned())
            }
        });
        let gate = check
            .optional("gate", self.gate.as_deref().map(str::trim), |gate| {
                let ok = (1..=MAX_GATE_CHARS).contains(&gate.len())
                    && gate.chars().all(|c| c.is_ascii_alphanumeric() || " -_".contains(c));
                if ok {
                    Ok(gate.to_owned())
                } else {
                    Err("must be 1 to 64 letters, digits, spaces, '-' or '_'")
                }
            })
            .unwrap_or_else(|| "main".to_owned());
        check.finish()?;
        Ok(Scan { code: code.expect("checked"), gate })
    }
}

/// What the check-in store found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckInOutcome {
    Admitted {
        at: DateTime<Utc>,
    },
    AlreadyAdmitted {
        at: DateTime<Utc>,
        gate: String,
    },
    /// The booking is not CONFIRMED (cancelled, refunded, failed…), or the
    /// seat is not its own: `None` when no such booking seat exists.
    Void {
        status: Option<BookingStatus>,
    },
}

/// The answer of a scan that admits.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Admitted {
    pub status: &'static str,
    pub ticket_id: Uuid,
    pub booking_id: Uuid,
    pub seat_id: String,
    pub gate: String,
    pub checked_in_at: DateTime<Utc>,
}

/// Why a ticket with a good signature does not get in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unadmitted {
    /// Scanned in before: at `at`, at `gate`.
    AlreadyAdmitted { seat_id: String, at: DateTime<Utc>, gate: String },
    /// Its booking is no longer paid (`status`), or it names no seat of its
    /// booking (`None`).
    Void { status: Option<BookingStatus> },
}

/// What a door scan answers, for a ticket whose signature was good.
pub fn judge(
    claims: &TicketClaims,
    event: &EventId,
    gate: &str,
    outcome: CheckInOutcome,
) -> Result<Admitted, Unadmitted> {
    let seat_id = event.seat_id(&claims.seat);
    match outcome {
        CheckInOutcome::Admitted { at } => Ok(Admitted {
            status: "admitted",
            ticket_id: claims.tid,
            booking_id: claims.bkg,
            seat_id,
            gate: gate.to_owned(),
            checked_in_at: at,
        }),
        CheckInOutcome::AlreadyAdmitted { at, gate } => Err(Unadmitted::AlreadyAdmitted { seat_id, at, gate }),
        CheckInOutcome::Void { status } => Err(Unadmitted::Void { status }),
    }
}

/// A ticket as its owner sees it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketView {
    pub ticket_id: Uuid,
    pub seat_id: String,
    pub label: String,
    pub section: String,
    /// What the door scans: the signed code, also drawn as `qrSvg`.
    pub code: String,
    pub qr_svg: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketsView {
    pub booking_id: Uuid,
    pub event_id: String,
    pub tickets: Vec<TicketView>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> TicketClaims {
        TicketClaims {
            tid: Uuid::nil(),
            bkg: Uuid::nil(),
            evt: "eras".into(),
            seat: "A1".into(),
            iat: 0,
            iss: "i".into(),
            aud: "a".into(),
        }
    }

    #[test]
    fn a_ticket_id_is_the_same_for_the_same_seat_and_different_for_any_other() {
        let booking = Uuid::new_v4();
        assert_eq!(ticket_id(booking, "A1"), ticket_id(booking, "A1"));
        assert_ne!(ticket_id(booking, "A1"), ticket_id(booking, "A2"));
        assert_ne!(ticket_id(booking, "A1"), ticket_id(Uuid::new_v4(), "A1"));
    }

    #[test]
    fn a_scan_needs_a_code_and_a_sane_gate() {
        let err = CheckInRequest { code: None, gate: Some("<script>".into()) }.parse().unwrap_err();
        assert!(err.0.contains_key("code") && err.0.contains_key("gate"), "{err}");
        let scan = CheckInRequest { code: Some(" abc ".into()), gate: None }.parse().unwrap();
        assert_eq!(scan, Scan { code: "abc".into(), gate: "main".into() });
        let long = CheckInRequest { code: Some("x".repeat(3000)), gate: None }.parse().unwrap_err();
        assert!(long.0.contains_key("code"), "{long}");
    }

    #[test]
    fn each_outcome_has_its_answer() {
        let event = EventId::parse("eras").unwrap();
        let at = Utc::now();
        let admitted = judge(&claims(), &event, "north", CheckInOutcome::Admitted { at }).unwrap();
        assert_eq!((admitted.status, admitted.seat_id.as_str()), ("admitted", "eras_A1"));
        let again = CheckInOutcome::AlreadyAdmitted { at, gate: "south".into() };
        let err = judge(&claims(), &event, "north", again).unwrap_err();
        assert_eq!(err, Unadmitted::AlreadyAdmitted { seat_id: "eras_A1".into(), at, gate: "south".into() });
        let void = CheckInOutcome::Void { status: Some(BookingStatus::Cancelled) };
        let err = judge(&claims(), &event, "north", void).unwrap_err();
        assert_eq!(err, Unadmitted::Void { status: Some(BookingStatus::Cancelled) });
    }
}
