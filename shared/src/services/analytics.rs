//! The organisers' live sales numbers: what `GET /admin/events/{id}/stats`
//! answers. Counters come from the analytics consumer (per event and
//! minute, see repo/pg_sales.rs), seats per section from the live seat board,
//! admissions from the door's check-ins.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use crate::{
    catalog::{self, SectionAvailability},
    domain::{
        event::{Availability, EventId},
        fields::FieldCheck,
        sales::{minute_of, SalesCounts, SalesFigures},
    },
    error::ApiError,
    repo::pg_sales::PgSales,
};

/// Minutes of the time series per page: a day at most, an hour by default
/// (what the dashboard's chart shows).
const MAX_MINUTES: u32 = 1_440;
const DEFAULT_MINUTES: u32 = 60;

/// Which minutes of the series to return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesPage {
    /// The first minute to include (rounded down to its minute).
    pub from: DateTime<Utc>,
    pub limit: u32,
}

/// `from` (ISO 8601 date-time, default: the beginning) and `limit` (1–1440,
/// default 60).
pub fn parse_series_page(param: impl Fn(&str) -> Option<String>) -> Result<SeriesPage, ApiError> {
    let mut check = FieldCheck::default();
    let from = check.optional("from", param("from").as_deref(), |raw| {
        DateTime::parse_from_rfc3339(raw)
            .map(|at| minute_of(at.with_timezone(&Utc)))
            .map_err(|_| "must be an ISO 8601 date-time (2027-06-01T19:00:00Z)")
    });
    let limit = check.optional("limit", param("limit").as_deref(), |raw| match raw.parse::<u32>() {
        Ok(n) if (1..=MAX_MINUTES).contains(&n) => Ok(n),
        _ => Err("must be an integer from 1 to 1440"),
    });
    check.finish()?;
    Ok(SeriesPage { from: from.unwrap_or(DateTime::UNIX_EPOCH), limit: limit.unwrap_or(DEFAULT_MINUTES) })
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MinuteStats {
    pub minute: DateTime<Utc>,
    #[serde(flatten)]
    pub counts: SalesCounts,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventStats<'a> {
    pub event_id: &'a EventId,
    pub name: &'a str,
    pub currency: &'a str,
    /// Seats right now, from the live board (what the seat map shows).
    pub seats: Availability,
    pub sections: Vec<SectionAvailability<'a>>,
    /// Every minute added up.
    pub totals: SalesCounts,
    #[serde(flatten)]
    pub figures: SalesFigures,
    /// Tickets admitted at the door.
    pub admitted: i64,
    /// The page of the per-minute series: minutes with activity, oldest first.
    pub minutes: Vec<MinuteStats>,
    /// `from` of the next page, if this one was full.
    pub next_from: Option<DateTime<Utc>>,
    pub generated_at: DateTime<Utc>,
}

/// Everything the dashboard shows for one event (`live` from
/// `catalog::seat_map`, which answers 404 for an unknown event).
pub async fn event_stats<'a>(
    live: &'a catalog::LiveLayout,
    sales: &PgSales,
    page: &SeriesPage,
    now: DateTime<Utc>,
) -> Result<EventStats<'a>, ApiError> {
    let event = &live.layout.event;
    let id = event.id.as_ref();
    let (totals, minutes, admitted) =
        tokio::try_join!(sales.totals(id), sales.minutes(id, page.from, page.limit), sales.admitted(id))?;
    let seats = live.availability();
    let next_from = (minutes.len() == page.limit as usize)
        .then(|| minutes.last().map(|(minute, _)| *minute + TimeDelta::minutes(1)))
        .flatten();
    Ok(EventStats {
        event_id: &event.id,
        name: &event.name,
        currency: &event.currency,
        figures: SalesFigures::of(&totals, seats.available, seats.held),
        seats,
        sections: live.availability_by_section(),
        totals,
        admitted,
        minutes: minutes.into_iter().map(|(minute, counts)| MinuteStats { minute, counts }).collect(),
        next_from,
        generated_at: now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(pairs: &[(&str, &str)]) -> Result<SeriesPage, ApiError> {
        let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        parse_series_page(|name| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    #[test]
    fn the_series_page_defaults_to_an_hour_from_the_beginning() {
        assert_eq!(page(&[]).unwrap(), SeriesPage { from: DateTime::UNIX_EPOCH, limit: 60 });
    }

    #[test]
    fn from_is_rounded_down_to_its_minute() {
        let parsed = page(&[("from", "2027-06-01T19:05:42+02:00"), ("limit", "1440")]).unwrap();
        assert_eq!(parsed.from.to_rfc3339(), "2027-06-01T17:05:00+00:00");
        assert_eq!(parsed.limit, 1440);
    }

    #[test]
    fn bad_values_name_their_field() {
        for bad in [vec![("limit", "0")], vec![("limit", "1441")], vec![("limit", "x")], vec![("from", "yesterday")]] {
            let ApiError::Validation(fields) = page(&bad).unwrap_err() else { panic!("not a validation error") };
            assert!(fields.contains_key(bad[0].0), "{bad:?} → {fields:?}");
        }
    }
}
