//! The waiting list of a sold-out event: who waits for how many seats, in
//! which order, and who is offered which seats when some come back. Pure:
//! the list lives in PostgreSQL (repo/pg_waitlist.rs), the offers are made
//! by the waiting-list service (waitlist.rs).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    booking::BookingStatus,
    fields::{FieldCheck, Invalid},
};

/// Seats one entry may ask for: a household, not a reseller.
pub const MAX_WAITLIST_SEATS: u8 = 4;

/// The body of `POST /events/{id}/waitlist`; empty means one seat.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JoinRequest {
    pub seats: Option<i64>,
}

impl JoinRequest {
    pub fn seats(&self) -> Result<u8, Invalid> {
        let mut check = FieldCheck::default();
        let seats = match self.seats {
            None => 1,
            Some(n) if (1..=i64::from(MAX_WAITLIST_SEATS)).contains(&n) => n as u8,
            Some(_) => {
                check.fail("seats", &format!("must be an integer from 1 to {MAX_WAITLIST_SEATS}"));
                0
            }
        };
        check.finish()?;
        Ok(seats)
    }
}

/// Where an entry stands. An entry leaves the list (LEFT, PASSED) for good:
/// joining again puts the fan at the back, as any box office queue would.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EntryState {
    /// In line for the next seats that come back.
    Waiting,
    /// Seats are held for this fan as a PENDING booking until the claim
    /// window closes; paying it is claiming them.
    Offered,
    /// The fan left the list.
    Left,
    /// The offer lapsed unpaid, or its booking was cancelled or failed: the
    /// seats went to the next in line.
    Passed,
}

impl EntryState {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryState::Waiting => "WAITING",
            EntryState::Offered => "OFFERED",
            EntryState::Left => "LEFT",
            EntryState::Passed => "PASSED",
        }
    }

    /// The stored value back; an unknown one is a corrupt row, not a
    /// client's mistake.
    pub fn parse(raw: &str) -> Option<EntryState> {
        Some(match raw {
            "WAITING" => EntryState::Waiting,
            "OFFERED" => EntryState::Offered,
            "LEFT" => EntryState::Left,
            "PASSED" => EntryState::Passed,
            _ => return None,
        })
    }
}

/// One fan's entry as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Also the order of the list: smaller ids joined earlier.
    pub id: i64,
    pub event_id: String,
    pub user_id: Uuid,
    pub seats: u8,
    pub state: EntryState,
    /// The offer, once made.
    pub booking_id: Option<Uuid>,
    pub offer_expires_at: Option<DateTime<Utc>>,
    pub joined_at: DateTime<Utc>,
}

/// What the fan sees of their entry.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryView {
    pub event_id: String,
    pub seats: u8,
    pub state: EntryState,
    /// 1 for the next fan to be offered seats; only while waiting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
    pub joined_at: DateTime<Utc>,
    /// The booking that holds the offered seats: pay it to claim them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub booking_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offer_expires_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub booking_status: Option<BookingStatus>,
}

impl EntryView {
    pub fn of(entry: &Entry, position: Option<u64>, booking_status: Option<BookingStatus>) -> EntryView {
        EntryView {
            event_id: entry.event_id.clone(),
            seats: entry.seats,
            state: entry.state,
            position: position.filter(|_| entry.state == EntryState::Waiting),
            joined_at: entry.joined_at,
            booking_id: entry.booking_id,
            offer_expires_at: entry.offer_expires_at,
            booking_status,
        }
    }
}

/// The next offer to make from `free` seats: the first waiting entry (in
/// list order) whose request fits, with the first seats in layout order
/// (`free` is kept sorted by the caller's order, so a couple gets seats
/// next to each other where the returned ones are). An entry that does not
/// fit keeps its place: a fan waiting for four is not skipped for good
/// because two came back, but neither does the list stall behind them.
pub fn next_offer<'a>(
    waiting: &'a [Entry],
    free: &[String],
    passed_over: &BTreeSet<i64>,
) -> Option<(&'a Entry, Vec<String>)> {
    waiting
        .iter()
        .filter(|entry| entry.state == EntryState::Waiting && !passed_over.contains(&entry.id))
        .find(|entry| usize::from(entry.seats) <= free.len())
        .map(|entry| (entry, free[..usize::from(entry.seats)].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiting(id: i64, seats: u8) -> Entry {
        Entry {
            id,
            event_id: "evt".into(),
            user_id: Uuid::new_v4(),
            seats,
            state: EntryState::Waiting,
            booking_id: None,
            offer_expires_at: None,
            joined_at: Utc::now(),
        }
    }

    fn labels(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_first_fan_whose_request_fits_is_offered_the_first_free_seats() {
        let list = [waiting(1, 2), waiting(2, 1)];
        let (entry, seats) = next_offer(&list, &labels(&["A1", "A2", "A3"]), &BTreeSet::new()).unwrap();
        assert_eq!((entry.id, seats), (1, labels(&["A1", "A2"])));
    }

    #[test]
    fn a_request_that_does_not_fit_keeps_its_place_and_the_next_that_fits_is_offered() {
        let list = [waiting(1, 4), waiting(2, 3), waiting(3, 1)];
        let (entry, seats) = next_offer(&list, &labels(&["B7"]), &BTreeSet::new()).unwrap();
        assert_eq!((entry.id, seats), (3, labels(&["B7"])));
        assert!(next_offer(&list[..2], &labels(&["B7"]), &BTreeSet::new()).is_none());
    }

    #[test]
    fn entries_passed_over_or_not_waiting_are_not_offered() {
        let mut offered = waiting(1, 1);
        offered.state = EntryState::Offered;
        let list = [offered, waiting(2, 1), waiting(3, 1)];
        let (entry, _) = next_offer(&list, &labels(&["A1"]), &BTreeSet::from([2])).unwrap();
        assert_eq!(entry.id, 3);
        assert!(next_offer(&list, &[], &BTreeSet::new()).is_none());
    }

    #[test]
    fn a_join_asks_for_one_to_four_seats() {
        assert_eq!(JoinRequest::default().seats().unwrap(), 1);
        assert_eq!(JoinRequest { seats: Some(4) }.seats().unwrap(), 4);
        for bad in [0, 5, -1, i64::MAX] {
            let err = JoinRequest { seats: Some(bad) }.seats().unwrap_err();
            assert!(err.0.contains_key("seats"), "{bad}");
        }
    }

    #[test]
    fn the_position_is_shown_only_while_waiting() {
        let mut entry = waiting(1, 2);
        assert_eq!(EntryView::of(&entry, Some(3), None).position, Some(3));
        entry.state = EntryState::Offered;
        assert_eq!(EntryView::of(&entry, Some(3), None).position, None);
    }

    #[test]
    fn stored_states_read_back() {
        for state in [EntryState::Waiting, EntryState::Offered, EntryState::Left, EntryState::Passed] {
            assert_eq!(EntryState::parse(state.as_str()), Some(state));
        }
        assert_eq!(EntryState::parse("waiting"), None);
    }
}
