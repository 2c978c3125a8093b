//! Sales analytics: what each booking message adds to its event's
//! per-minute counters, and the figures an organiser reads off them
//! (conversion, net revenue, time to sell-out). Pure: the analytics consumer
//! feeds it messages, the stats endpoint feeds it stored minutes.

use std::collections::BTreeMap;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde::Serialize;

/// A change in a booking's life, as the booking topics announce it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaleMove {
    /// A booking was made: its seats are held.
    Requested,
    /// It was paid.
    Confirmed,
    /// Its buyer cancelled it (with a refund if it was paid).
    Cancelled,
    /// Its hold lapsed unpaid.
    Expired,
    /// Its seats could not be reserved.
    Failed,
}

impl SaleMove {
    /// The move a topic announces; `None` for topics that say nothing new
    /// about sales (seat.reserved, event.created, waitlist.offered, whose
    /// booking also publishes booking.requested).
    pub fn of_topic(topic: &str) -> Option<SaleMove> {
        use crate::kafka;
        Some(match topic {
            kafka::BOOKING_REQUESTED => SaleMove::Requested,
            kafka::BOOKING_CONFIRMED => SaleMove::Confirmed,
            kafka::BOOKING_CANCELLED => SaleMove::Cancelled,
            kafka::BOOKING_EXPIRED => SaleMove::Expired,
            kafka::SEAT_RESERVATION_FAILED => SaleMove::Failed,
            _ => return None,
        })
    }
}

/// One booking message, reduced to what the counters need.
#[derive(Debug, Clone)]
pub struct SaleRecord {
    pub event_id: String,
    pub kind: SaleMove,
    pub at: DateTime<Utc>,
    pub seats: u32,
    /// The booking's total (every message of a booking made since analytics
    /// exist carries it; older ones count as 0).
    pub total_cents: i64,
    /// What a cancellation owes back (only a paid booking's does).
    pub refund_cents: i64,
}

/// One event's counters for one minute (or, summed, for all of them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SalesCounts {
    pub requested: i64,
    pub seats_requested: i64,
    pub confirmed: i64,
    pub seats_sold: i64,
    pub gross_cents: i64,
    pub cancelled: i64,
    pub seats_cancelled: i64,
    pub refunded_cents: i64,
    pub expired: i64,
    pub failed: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_request_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_sale_at: Option<DateTime<Utc>>,
}

impl SalesCounts {
    fn count(&mut self, record: &SaleRecord) {
        let seats = i64::from(record.seats);
        match record.kind {
            SaleMove::Requested => {
                self.requested += 1;
                self.seats_requested += seats;
                self.first_request_at = earliest(self.first_request_at, Some(record.at));
            }
            SaleMove::Confirmed => {
                self.confirmed += 1;
                self.seats_sold += seats;
                self.gross_cents += record.total_cents;
                self.last_sale_at = latest(self.last_sale_at, Some(record.at));
            }
            SaleMove::Cancelled => {
                self.cancelled += 1;
                self.seats_cancelled += seats;
                self.refunded_cents += record.refund_cents;
            }
            SaleMove::Expired => self.expired += 1,
            SaleMove::Failed => self.failed += 1,
        }
    }

    /// Adds another minute's counters to these.
    pub fn absorb(&mut self, other: &SalesCounts) {
        self.requested += other.requested;
        self.seats_requested += other.seats_requested;
        self.confirmed += other.confirmed;
        self.seats_sold += other.seats_sold;
        self.gross_cents += other.gross_cents;
        self.cancelled += other.cancelled;
        self.seats_cancelled += other.seats_cancelled;
        self.refunded_cents += other.refunded_cents;
        self.expired += other.expired;
        self.failed += other.failed;
        self.first_request_at = earliest(self.first_request_at, other.first_request_at);
        self.last_sale_at = latest(self.last_sale_at, other.last_sale_at);
    }
}

fn earliest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    a.into_iter().chain(b).min()
}

fn latest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    a.into_iter().chain(b).max()
}

/// The minute an instant falls in.
pub fn minute_of(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(TimeDelta::minutes(1)).unwrap_or(at)
}

/// Sums records into one row per (event, minute), the shape they are
/// stored in: a batch of 100 messages of a busy on-sale is one or two
/// upserts, not 100.
pub fn tally(records: &[SaleRecord]) -> BTreeMap<(String, DateTime<Utc>), SalesCounts> {
    let mut rows: BTreeMap<(String, DateTime<Utc>), SalesCounts> = BTreeMap::new();
    for record in records {
        rows.entry((record.event_id.clone(), minute_of(record.at))).or_default().count(record);
    }
    rows
}

/// What an organiser reads off the totals and the live seat counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SalesFigures {
    /// Paid bookings per booking made, 0–1 (`None` before the first).
    pub conversion: Option<f64>,
    pub net_cents: i64,
    /// When the last seat was paid for, if none is left to sell or held.
    pub sold_out_at: Option<DateTime<Utc>>,
    /// From the first booking to that last payment, in seconds.
    pub time_to_sell_out_secs: Option<i64>,
}

impl SalesFigures {
    pub fn of(totals: &SalesCounts, seats_available: u32, seats_held: u32) -> SalesFigures {
        let sold_out_at =
            (seats_available == 0 && seats_held == 0 && totals.seats_sold > 0).then_some(totals.last_sale_at).flatten();
        SalesFigures {
            conversion: (totals.requested > 0).then(|| totals.confirmed as f64 / totals.requested as f64),
            net_cents: totals.gross_cents - totals.refunded_cents,
            sold_out_at,
            time_to_sell_out_secs: sold_out_at
                .zip(totals.first_request_at)
                .map(|(end, start)| (end - start).num_seconds().max(0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 6, h, m, s).unwrap()
    }

    fn record(event: &str, kind: SaleMove, when: DateTime<Utc>, seats: u32, total: i64, refund: i64) -> SaleRecord {
        SaleRecord { event_id: event.into(), kind, at: when, seats, total_cents: total, refund_cents: refund }
    }

    #[test]
    fn records_sum_per_event_and_minute() {
        let rows = tally(&[
            record("ev1", SaleMove::Requested, at(20, 0, 5), 2, 30_000, 0),
            record("ev1", SaleMove::Requested, at(20, 0, 50), 1, 15_000, 0),
            record("ev1", SaleMove::Confirmed, at(20, 0, 59), 2, 30_000, 0),
            record("ev1", SaleMove::Confirmed, at(20, 1, 0), 1, 15_000, 0),
            record("ev2", SaleMove::Requested, at(20, 0, 30), 4, 40_000, 0),
        ]);
        assert_eq!(rows.len(), 3);
        let first = &rows[&("ev1".to_owned(), at(20, 0, 0))];
        assert_eq!((first.requested, first.seats_requested, first.confirmed, first.gross_cents), (2, 3, 1, 30_000));
        assert_eq!(first.first_request_at, Some(at(20, 0, 5)));
        assert_eq!(first.last_sale_at, Some(at(20, 0, 59)));
        let second = &rows[&("ev1".to_owned(), at(20, 1, 0))];
        assert_eq!((second.requested, second.confirmed, second.seats_sold), (0, 1, 1));
        assert_eq!(second.first_request_at, None);
        assert_eq!(rows[&("ev2".to_owned(), at(20, 0, 0))].seats_requested, 4);
    }

    #[test]
    fn a_paid_cancellation_counts_its_refund_and_lapses_count_apart() {
        let rows = tally(&[
            record("ev", SaleMove::Cancelled, at(9, 0, 0), 2, 30_000, 30_000),
            record("ev", SaleMove::Cancelled, at(9, 0, 1), 1, 15_000, 0),
            record("ev", SaleMove::Expired, at(9, 0, 2), 3, 45_000, 0),
            record("ev", SaleMove::Failed, at(9, 0, 3), 1, 15_000, 0),
        ]);
        let row = &rows[&("ev".to_owned(), at(9, 0, 0))];
        assert_eq!((row.cancelled, row.seats_cancelled, row.refunded_cents), (2, 3, 30_000));
        assert_eq!((row.expired, row.failed, row.gross_cents), (1, 1, 0));
    }

    #[test]
    fn minutes_add_up_to_the_totals() {
        let rows = tally(&[
            record("ev", SaleMove::Requested, at(9, 0, 10), 2, 200, 0),
            record("ev", SaleMove::Confirmed, at(9, 3, 0), 2, 200, 0),
            record("ev", SaleMove::Requested, at(9, 1, 0), 1, 100, 0),
        ]);
        let mut totals = SalesCounts::default();
        rows.values().for_each(|row| totals.absorb(row));
        assert_eq!((totals.requested, totals.confirmed, totals.gross_cents), (2, 1, 200));
        assert_eq!(totals.first_request_at, Some(at(9, 0, 10)));
        assert_eq!(totals.last_sale_at, Some(at(9, 3, 0)));
    }

    #[test]
    fn figures_say_sold_out_only_when_nothing_is_left_or_held() {
        let totals = SalesCounts {
            requested: 4,
            confirmed: 3,
            seats_sold: 6,
            gross_cents: 900,
            refunded_cents: 300,
            first_request_at: Some(at(10, 0, 0)),
            last_sale_at: Some(at(10, 2, 30)),
            ..SalesCounts::default()
        };
        let sold_out = SalesFigures::of(&totals, 0, 0);
        assert_eq!(sold_out.conversion, Some(0.75));
        assert_eq!(sold_out.net_cents, 600);
        assert_eq!(sold_out.sold_out_at, Some(at(10, 2, 30)));
        assert_eq!(sold_out.time_to_sell_out_secs, Some(150));
        assert_eq!(SalesFigures::of(&totals, 0, 1).sold_out_at, None, "a held seat may still come back");
        assert_eq!(SalesFigures::of(&totals, 5, 0).time_to_sell_out_secs, None);
        assert_eq!(SalesFigures::of(&SalesCounts::default(), 0, 0).conversion, None);
    }

    #[test]
    fn topics_map_to_moves() {
        assert_eq!(SaleMove::of_topic("booking.requested"), Some(SaleMove::Requested));
        assert_eq!(SaleMove::of_topic("seat.reservation_failed"), Some(SaleMove::Failed));
        assert_eq!(SaleMove::of_topic("seat.reserved"), None);
        assert_eq!(SaleMove::of_topic("waitlist.offered"), None);
    }
}
