//! Box-office limits on what one fan may take at one event, decided from
//! their history there before any seat is held.
//!
//! Seats a fan lets go come back to everyone else first: a cancelled seat
//! for a short cool-down, a seat whose hold the fan let lapse for longer
//! (a lapse costs the other fans a whole hold, a cancel only what was left
//! of one), and a fan whose holds keep lapsing sits the event out for a
//! while. Without that, one account cycles holds (hold, let it lapse, hold
//! again two seconds later) and keeps seats off sale for good.
//!
//! The bound a bot with one account gets, with the defaults (hold 10 min,
//! lapse cool-down 20 min, 2 lapses an hour): it holds a given seat at most
//! one hold in every hold + lapse cool-down (10 of every 30 minutes), and
//! holds anything at the event at most `max_lapses` holds an hour. The
//! test below simulates it.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// How a fan gave a seat back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LetGo {
    Cancelled,
    Lapsed,
}

/// A seat the fan gave back, when and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatLetGo {
    pub label: String,
    pub at: DateTime<Utc>,
    pub how: LetGo,
}

/// A fan's past at one event, as the store of record has it, within the
/// rules' look-back.
#[derive(Debug, Clone, Default)]
pub struct PurchaseHistory {
    /// Seats in the fan's open (unlapsed) or paid bookings.
    pub seats_owned: u32,
    /// Which of the requested seats the fan gave back, and when.
    pub let_go: Vec<SeatLetGo>,
    /// When each of the fan's holds at this event lapsed unpaid.
    pub lapses: Vec<DateTime<Utc>>,
}

/// The limits, from the deployment's settings and the event's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurchaseRules {
    /// Seats one fan may hold or own at the event.
    pub seat_limit: u32,
    pub cancel_cooldown: Duration,
    pub lapse_cooldown: Duration,
    /// Lapses within `lapse_window` after which the fan waits out the
    /// window before holding anything at the event again.
    pub max_lapses: u32,
    pub lapse_window: Duration,
}

/// What the rules say of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PurchaseVerdict {
    Allowed,
    /// Some of the seats were given back too recently by this fan.
    CoolingDown {
        seats: Vec<String>,
        retry_after: Duration,
    },
    /// The fan let too many holds lapse at this event lately.
    TooManyLapses {
        retry_after: Duration,
    },
    OverLimit {
        limit: u32,
        owned: u32,
        wanted: u32,
    },
}

impl PurchaseRules {
    /// How far back the store must look for the rules to see everything
    /// they judge by.
    pub fn look_back(&self) -> Duration {
        self.cancel_cooldown.max(self.lapse_cooldown).max(self.lapse_window)
    }

    fn cooldown(&self, how: LetGo) -> Duration {
        match how {
            LetGo::Cancelled => self.cancel_cooldown,
            LetGo::Lapsed => self.lapse_cooldown,
        }
    }

    pub fn judge(&self, history: &PurchaseHistory, wanted: u32, now: DateTime<Utc>) -> PurchaseVerdict {
        let window_start = now - chrono_of(self.lapse_window);
        let mut recent: Vec<DateTime<Utc>> = history.lapses.iter().copied().filter(|at| *at > window_start).collect();
        if self.max_lapses > 0 && recent.len() as u32 >= self.max_lapses {
            // Free again when enough of them leave the window.
            recent.sort();
            let freed_by = recent[recent.len() - self.max_lapses as usize];
            return PurchaseVerdict::TooManyLapses {
                retry_after: wait_until(freed_by + chrono_of(self.lapse_window), now),
            };
        }
        let cooling: Vec<(&SeatLetGo, DateTime<Utc>)> = history
            .let_go
            .iter()
            .map(|seat| (seat, seat.at + chrono_of(self.cooldown(seat.how))))
            .filter(|(_, until)| *until > now)
            .collect();
        if let Some(until) = cooling.iter().map(|(_, until)| *until).max() {
            let mut seats: Vec<String> = cooling.iter().map(|(seat, _)| seat.label.clone()).collect();
            seats.sort();
            seats.dedup();
            return PurchaseVerdict::CoolingDown { seats, retry_after: wait_until(until, now) };
        }
        if history.seats_owned + wanted > self.seat_limit {
            return PurchaseVerdict::OverLimit { limit: self.seat_limit, owned: history.seats_owned, wanted };
        }
        PurchaseVerdict::Allowed
    }
}

fn chrono_of(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

/// At least a second: a Retry-After of 0 invites a hot loop.
fn wait_until(until: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (until - now).to_std().unwrap_or_default().max(Duration::from_secs(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    fn rules() -> PurchaseRules {
        PurchaseRules {
            seat_limit: 6,
            cancel_cooldown: 2 * MINUTE,
            lapse_cooldown: 20 * MINUTE,
            max_lapses: 2,
            lapse_window: 60 * MINUTE,
        }
    }

    fn ago(now: DateTime<Utc>, minutes: i64) -> DateTime<Utc> {
        now - chrono::Duration::minutes(minutes)
    }

    #[test]
    fn a_lapsed_hold_cools_its_seats_longer_than_a_cancel() {
        let now = Utc::now();
        let seat = |label: &str, minutes, how| SeatLetGo { label: label.into(), at: ago(now, minutes), how };
        let cancelled = PurchaseHistory { let_go: vec![seat("A1", 3, LetGo::Cancelled)], ..Default::default() };
        assert_eq!(rules().judge(&cancelled, 1, now), PurchaseVerdict::Allowed, "a cancel cools for 2 minutes");
        let lapsed = PurchaseHistory {
            let_go: vec![seat("A1", 3, LetGo::Lapsed), seat("A2", 1, LetGo::Cancelled)],
            lapses: vec![ago(now, 3)],
            ..Default::default()
        };
        match rules().judge(&lapsed, 2, now) {
            PurchaseVerdict::CoolingDown { seats, retry_after } => {
                assert_eq!(seats, ["A1", "A2"]);
                assert_eq!(retry_after, 17 * MINUTE, "until the lapsed seat's cool-down ends");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn repeated_lapses_sit_the_fan_out_until_they_leave_the_window() {
        let now = Utc::now();
        let history = PurchaseHistory { lapses: vec![ago(now, 50), ago(now, 25), ago(now, 70)], ..Default::default() };
        assert_eq!(
            rules().judge(&history, 1, now),
            PurchaseVerdict::TooManyLapses { retry_after: 10 * MINUTE },
            "two lapses within the hour; the older leaves it in 10 minutes"
        );
        let one = PurchaseHistory { lapses: vec![ago(now, 50)], ..Default::default() };
        assert_eq!(rules().judge(&one, 1, now), PurchaseVerdict::Allowed, "one lapse is an honest fan's mistake");
    }

    #[test]
    fn owned_and_wanted_seats_together_stay_within_the_limit() {
        let now = Utc::now();
        let history = PurchaseHistory { seats_owned: 5, ..Default::default() };
        assert_eq!(rules().judge(&history, 1, now), PurchaseVerdict::Allowed);
        assert_eq!(rules().judge(&history, 2, now), PurchaseVerdict::OverLimit { limit: 6, owned: 5, wanted: 2 });
    }

    /// A bot with one account tries to hold the same four seats every
    /// minute for 30 minutes and always lets the hold lapse; the rules keep
    /// those seats free for others two thirds of the time.
    #[test]
    fn a_bot_cycling_holds_keeps_the_seats_off_sale_a_third_of_the_time_at_most() {
        let hold = chrono::Duration::minutes(10);
        let start = Utc::now();
        let seats = ["C1", "C2", "C3", "C4"];
        let mut history = PurchaseHistory::default();
        let mut held_until: Option<DateTime<Utc>> = None;
        let mut minutes_held = 0;
        for minute in 0..30 {
            let now = start + chrono::Duration::minutes(minute);
            if let Some(until) = held_until.filter(|until| *until <= now) {
                // The hold lapsed unpaid: the store of record now says so.
                history.seats_owned = 0;
                history.lapses.push(until);
                history.let_go.extend(seats.iter().map(|s| SeatLetGo {
                    label: (*s).into(),
                    at: until,
                    how: LetGo::Lapsed,
                }));
                held_until = None;
            }
            if held_until.is_none() && rules().judge(&history, seats.len() as u32, now) == PurchaseVerdict::Allowed {
                held_until = Some(now + hold);
                history.seats_owned = seats.len() as u32;
            }
            if held_until.is_some() {
                minutes_held += 1;
            }
        }
        assert!(minutes_held <= 10, "held {minutes_held} of 30 minutes");
        assert!(minutes_held > 0, "the first hold is an ordinary fan's");
    }
}
