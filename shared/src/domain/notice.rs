//! What the box office tells a booking's owner, and when. Pure: the facts
//! come from the stores, the words from the templates in shared/templates/.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    booking::{Booking, BookingStatus},
    money::Cents,
};
use crate::kafka;

/// The messages the notifier sends, one per booking and kind at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoticeKind {
    /// Paid: the tickets.
    Confirmed,
    /// Cancelled by its owner, with the refund if it was paid.
    Cancelled,
    /// The hold lapsed unpaid; the seats are for sale again.
    Expired,
    /// The seats could not be held after all (someone else had them).
    Failed,
    /// Seats came back and the waiting list offers them: held for the fan
    /// until the claim window closes.
    Offered,
}

impl NoticeKind {
    /// The kind a topic's messages call for; `None` for topics the notifier
    /// does not read.
    pub fn of_topic(topic: &str) -> Option<NoticeKind> {
        Some(match topic {
            kafka::BOOKING_CONFIRMED => NoticeKind::Confirmed,
            kafka::BOOKING_CANCELLED => NoticeKind::Cancelled,
            kafka::BOOKING_EXPIRED => NoticeKind::Expired,
            kafka::SEAT_RESERVATION_FAILED => NoticeKind::Failed,
            kafka::WAITLIST_OFFERED => NoticeKind::Offered,
            _ => return None,
        })
    }

    /// The key the notification ledger stores.
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Confirmed => "CONFIRMED",
            NoticeKind::Cancelled => "CANCELLED",
            NoticeKind::Expired => "EXPIRED",
            NoticeKind::Failed => "FAILED",
            NoticeKind::Offered => "OFFERED",
        }
    }

    /// The booking statuses in which this message is still true. Statuses
    /// only move forward, so a message whose status has since been left (a
    /// confirmation of a booking cancelled before the notifier got to it)
    /// would tell the owner something no longer true: the later message
    /// tells the story instead.
    fn reports(self) -> &'static [BookingStatus] {
        match self {
            NoticeKind::Confirmed => &[BookingStatus::Confirmed],
            NoticeKind::Cancelled => &[BookingStatus::Cancelled],
            NoticeKind::Expired => &[BookingStatus::Expired],
            NoticeKind::Failed => &[BookingStatus::Failed],
            // An offer is worth telling while it can still be paid.
            NoticeKind::Offered => &[BookingStatus::Pending, BookingStatus::Reserved],
        }
    }
}

/// What became of the booking's payment, as far as the owner is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payment {
    Unpaid,
    Paid(Cents),
    /// Owed back and on its way (the provider has not confirmed yet).
    RefundOwed(Cents),
    Refunded(Cents),
}

/// The event as a message names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSummary {
    pub name: String,
    pub date: DateTime<Utc>,
    pub venue: String,
}

/// One ticket as the confirmation carries it: its code and its QR drawing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailedTicket {
    pub label: String,
    pub section: String,
    pub code: String,
    pub qr_svg: String,
}

/// Everything one message needs, gathered from the stores.
#[derive(Debug, Clone)]
pub struct NoticeFacts {
    pub kind: NoticeKind,
    pub recipient: Recipient,
    pub booking: Booking,
    pub event: EventSummary,
    pub payment: Payment,
    /// Confirmations only.
    pub tickets: Vec<MailedTicket>,
}

/// Who a message goes to. The name the fan typed is deliberately not here:
/// it was never proven, and in the To line or a greeting it would let anyone
/// put their own words into mail from the box office's domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub email: String,
    /// Whether the owner proved the address: booking mail goes only to
    /// proven addresses (docs/decisions.md, "Mail only to proven addresses").
    pub verified: bool,
}

impl NoticeFacts {
    /// Whether the message still tells the truth (see `NoticeKind::reports`).
    pub fn still_true(&self) -> bool {
        self.kind.reports().contains(&self.booking.status)
    }

    pub fn subject(&self) -> String {
        let event = &self.event.name;
        match self.kind {
            NoticeKind::Confirmed => format!("Your tickets for {event}"),
            NoticeKind::Cancelled => format!("Booking cancelled: {event}"),
            NoticeKind::Expired => format!("Your hold on seats for {event} has lapsed"),
            NoticeKind::Failed => format!("We could not hold your seats for {event}"),
            NoticeKind::Offered => format!("Seats for {event} are held for you"),
        }
    }

    /// The text both templates show, formatted once.
    pub fn view(&self) -> NoticeView {
        let currency = &self.booking.currency;
        let seats = self
            .booking
            .seats
            .iter()
            .map(|seat| SeatRow {
                label: seat.label.clone(),
                section: seat.section.clone(),
                price: money(currency, seat.price),
            })
            .collect();
        let refund = match self.payment {
            Payment::RefundOwed(amount) => {
                Some(format!("A refund of {} is on its way to your card.", money(currency, amount)))
            }
            Payment::Refunded(amount) => Some(format!("We have refunded {} to your card.", money(currency, amount))),
            Payment::Unpaid | Payment::Paid(_) => None,
        };
        NoticeView {
            kind: self.kind,
            booking_id: self.booking.id,
            event_name: self.event.name.clone(),
            event_date: date(self.event.date),
            venue: self.event.venue.clone(),
            seats,
            total: money(currency, self.booking.total),
            refund,
            reason: self.booking.failure_reason.clone(),
            tickets: self.tickets.clone(),
            pay_by: (self.kind == NoticeKind::Offered).then(|| date(self.booking.expires_at)),
        }
    }
}

/// A message's words, before the templates lay them out. Every field is
/// plain text; the HTML template escapes all of them.
#[derive(Debug, Clone)]
pub struct NoticeView {
    pub kind: NoticeKind,
    pub booking_id: Uuid,
    pub event_name: String,
    pub event_date: String,
    pub venue: String,
    pub seats: Vec<SeatRow>,
    pub total: String,
    pub refund: Option<String>,
    pub reason: Option<String>,
    pub tickets: Vec<MailedTicket>,
    /// Offers only: when the held seats go to the next fan.
    pub pay_by: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SeatRow {
    pub label: String,
    pub section: String,
    pub price: String,
}

/// `Saturday 6 March 2027, 19:30 UTC`.
fn date(at: DateTime<Utc>) -> String {
    at.format("%A %-d %B %Y, %H:%M UTC").to_string()
}

/// `USD 149.99`: the currency code, then the amount in major units.
pub fn money(currency: &str, amount: Cents) -> String {
    let Cents(cents) = amount;
    format!("{currency} {}.{:02}", cents / 100, cents % 100)
}

/// The ticket attachment's file name; labels are `A-12` style, but the
/// name is built from what a file name may hold whatever a label contains.
pub fn ticket_file_name(label: &str) -> String {
    let safe: String = label.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    format!("ticket-{safe}.svg")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{booking::BookedSeat, user::Tier};

    fn facts(kind: NoticeKind, status: BookingStatus, payment: Payment) -> NoticeFacts {
        let now = Utc::now();
        NoticeFacts {
            kind,
            recipient: Recipient { email: "fan@example.com".into(), verified: true },
            booking: Booking {
                total: Cents(29_998),
                ..Booking::sample(
                    status,
                    vec![BookedSeat {
                        label: "A-1".into(),
                        section: "Floor".into(),
                        tier: Tier::Vip,
                        price: Cents(14_999),
                    }],
                )
            },
            event: EventSummary { name: "Show".into(), date: now, venue: "Hall, Town".into() },
            payment,
            tickets: vec![],
        }
    }

    #[test]
    fn topics_map_to_kinds_and_others_to_none() {
        assert_eq!(NoticeKind::of_topic("booking.confirmed"), Some(NoticeKind::Confirmed));
        assert_eq!(NoticeKind::of_topic("seat.reservation_failed"), Some(NoticeKind::Failed));
        assert_eq!(NoticeKind::of_topic("waitlist.offered"), Some(NoticeKind::Offered));
        assert_eq!(NoticeKind::of_topic("booking.requested"), None);
    }

    #[test]
    fn a_message_is_sent_only_while_its_status_holds() {
        assert!(facts(NoticeKind::Confirmed, BookingStatus::Confirmed, Payment::Paid(Cents(1))).still_true());
        assert!(!facts(NoticeKind::Confirmed, BookingStatus::Cancelled, Payment::Refunded(Cents(1))).still_true());
        assert!(facts(NoticeKind::Cancelled, BookingStatus::Cancelled, Payment::Unpaid).still_true());
        assert!(!facts(NoticeKind::Expired, BookingStatus::Confirmed, Payment::Paid(Cents(1))).still_true());
        assert!(facts(NoticeKind::Offered, BookingStatus::Reserved, Payment::Unpaid).still_true());
        assert!(!facts(NoticeKind::Offered, BookingStatus::Expired, Payment::Unpaid).still_true());
    }

    #[test]
    fn the_view_formats_money_dates_and_refunds() {
        let view = facts(NoticeKind::Cancelled, BookingStatus::Cancelled, Payment::RefundOwed(Cents(29_998))).view();
        assert_eq!(view.total, "USD 299.98");
        assert_eq!(view.seats[0].price, "USD 149.99");
        assert_eq!(view.refund.as_deref(), Some("A refund of USD 299.98 is on its way to your card."));
        let paid = facts(NoticeKind::Confirmed, BookingStatus::Confirmed, Payment::Paid(Cents(5))).view();
        assert_eq!(paid.refund, None);
        assert_eq!(money("EUR", Cents(5)), "EUR 0.05");
    }

    #[test]
    fn ticket_file_names_hold_only_safe_characters() {
        assert_eq!(ticket_file_name("A-12"), "ticket-A-12.svg");
        assert_eq!(ticket_file_name("../x y"), "ticket-___x_y.svg");
    }
}
