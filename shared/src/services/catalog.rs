//! The events service: list, detail, seat map, create, seed. Event layouts
//! are immutable once created, so each instance caches them and reads only
//! live status (one Redis HGETALL) per seat-map request; the Mongo-wire
//! server is never on the seat map's hot path.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::{
    domain::{
        event::{Availability, Event, EventId, EventView, NewEventRequest, Seat, SeatStatus},
        money::Major,
        user::Tier,
    },
    error::ApiError,
    kafka::{self, Envelope, Publisher},
    repo::{EventCatalog, EventQuery, LiveSeats, SeatBoard},
};

pub use crate::domain::event::Layout;

/// Enough for every event a real venue sells at once; past it the least
/// used layouts are evicted one at a time.
const MAX_CACHED_LAYOUTS: u64 = 10_000;

/// How long an id the catalog does not know is answered 404 from memory: a
/// walk over made-up ids costs the catalog one read per id per window,
/// while an event is never missing for longer than this after it exists
/// (the instance that creates one knows it at once).
const MISSING_FOR: std::time::Duration = std::time::Duration::from_secs(2);

/// Seat layouts, immutable once an event exists, per instance.
pub struct LayoutCache {
    layouts: moka::sync::Cache<EventId, Arc<Layout>>,
    missing: moka::sync::Cache<EventId, ()>,
}

impl Default for LayoutCache {
    fn default() -> Self {
        LayoutCache {
            layouts: moka::sync::Cache::new(MAX_CACHED_LAYOUTS),
            missing: moka::sync::Cache::builder().max_capacity(MAX_CACHED_LAYOUTS).time_to_live(MISSING_FOR).build(),
        }
    }
}

impl LayoutCache {
    pub async fn get(&self, catalog: &dyn EventCatalog, id: &EventId) -> Result<Arc<Layout>, ApiError> {
        if let Some(layout) = self.layouts.get(id) {
            return Ok(layout);
        }
        let not_found = || ApiError::NotFound(format!("Event {id} not found"));
        if self.missing.contains_key(id) {
            return Err(not_found());
        }
        match catalog.get(id).await? {
            Some(event) => Ok(self.put(event)),
            None => {
                self.missing.insert(id.clone(), ());
                Err(not_found())
            }
        }
    }

    pub fn put(&self, event: Event) -> Arc<Layout> {
        let layout = Arc::new(Layout { seats: event.seats(), event });
        self.missing.invalidate(&layout.event.id);
        self.layouts.insert(layout.event.id.clone(), layout.clone());
        layout
    }
}

fn availability(layout: &Layout, live: &LiveSeats) -> Availability {
    count_seats(&layout.seats, live)
}

/// Seats available, held and booked among `seats`.
fn count_seats<'a>(seats: impl IntoIterator<Item = &'a Seat>, live: &LiveSeats) -> Availability {
    let mut counts = Availability::default();
    for seat in seats {
        counts.total += 1;
        match live.get(&seat.label) {
            Some(SeatStatus::Held) => counts.held += 1,
            Some(SeatStatus::Booked) => counts.booked += 1,
            _ => counts.available += 1,
        }
    }
    counts
}

fn availability_of(event: &Event, live: &LiveSeats) -> Availability {
    let held = live.values().filter(|s| **s == SeatStatus::Held).count() as u32;
    let booked = live.values().filter(|s| **s == SeatStatus::Booked).count() as u32;
    Availability { available: event.total_seats.saturating_sub(held + booked), held, booked, total: event.total_seats }
}

/// Query-string parameters of `GET /events`, parsed and bounded.
pub fn parse_event_query(param: impl Fn(&str) -> Option<String>) -> Result<(EventQuery, u32), ApiError> {
    let mut check = crate::domain::fields::FieldCheck::default();
    let (limit, page) = crate::domain::fields::paging(&mut check, &param);
    let date = |raw: &str| -> Result<DateTime<Utc>, &'static str> {
        if let Ok(date) = DateTime::parse_from_rfc3339(raw) {
            return Ok(date.with_timezone(&Utc));
        }
        NaiveDate::parse_from_str(raw, "%Y-%m-%d")
            .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc())
            .map_err(|_| "must be a date (2027-06-01) or an ISO 8601 date-time")
    };
    let from = check.optional("from", param("from").as_deref(), date);
    let to = check.optional("to", param("to").as_deref(), date);
    let category = check.optional("category", param("category").as_deref(), |raw| {
        let value = raw.to_lowercase();
        if value.len() <= 40 && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ' ') {
            Ok(value)
        } else {
            Err("must be 1-40 letters, digits, spaces or dashes")
        }
    });
    let text = check.optional("q", param("q").as_deref(), |raw| {
        if raw.chars().count() <= 100 {
            Ok(raw.to_owned())
        } else {
            Err("must be at most 100 characters")
        }
    });
    if let (Some(from), Some(to)) = (from, to) {
        if from > to {
            check.fail("to", "must not be before from");
        }
    }
    check.finish()?;
    let query = EventQuery { category, from, to, text, offset: u64::from(page - 1) * u64::from(limit), limit };
    Ok((query, page))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventPage<'a> {
    pub events: Vec<EventView<'a>>,
    pub page: u32,
    pub limit: u32,
    pub total: u64,
    pub total_pages: u64,
}

pub struct ListedEvents {
    pub events: Vec<(Event, Availability)>,
    pub page: u32,
    pub limit: u32,
    pub total: u64,
}

impl ListedEvents {
    pub fn view(&self) -> EventPage<'_> {
        EventPage {
            events: self.events.iter().map(|(event, counts)| EventView::new(event, *counts)).collect(),
            page: self.page,
            limit: self.limit,
            total: self.total,
            total_pages: self.total.div_ceil(u64::from(self.limit)),
        }
    }
}

pub async fn list_events(
    catalog: &dyn EventCatalog,
    board: &dyn SeatBoard,
    query: EventQuery,
    page: u32,
) -> Result<ListedEvents, ApiError> {
    let (events, total) = catalog.list(&query).await?;
    let ids: Vec<EventId> = events.iter().map(|e| e.id.clone()).collect();
    let live = board.live_many(&ids).await?;
    let events = events
        .into_iter()
        .zip(live)
        .map(|(event, live)| {
            let counts = availability_of(&event, &live);
            (event, counts)
        })
        .collect();
    Ok(ListedEvents { events, page, limit: query.limit, total })
}

pub async fn event_detail(
    cache: &LayoutCache,
    catalog: &dyn EventCatalog,
    board: &dyn SeatBoard,
    id: &EventId,
) -> Result<(Arc<Layout>, Availability), ApiError> {
    let layout = cache.get(catalog, id).await?;
    let live = board.live(id).await?;
    let counts = availability(&layout, &live);
    Ok((layout, counts))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeatView<'a> {
    pub id: String,
    pub label: &'a str,
    pub row: &'a str,
    pub number: u32,
    pub section: &'a str,
    pub tier: Tier,
    pub price: Major,
    pub price_cents: i64,
    pub status: SeatStatus,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeatMap<'a> {
    pub event_id: &'a EventId,
    pub currency: &'a str,
    pub availability: Availability,
    pub seats: Vec<SeatView<'a>>,
}

#[derive(Debug, Default)]
pub struct SeatFilter {
    pub status: Option<SeatStatus>,
    pub section: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SectionAvailability<'a> {
    pub name: &'a str,
    pub tier: Tier,
    #[serde(flatten)]
    pub seats: Availability,
}

pub struct LiveLayout {
    pub layout: Arc<Layout>,
    pub live: LiveSeats,
}

impl LiveLayout {
    pub fn status_of(&self, label: &str) -> SeatStatus {
        self.live.get(label).copied().unwrap_or(SeatStatus::Available)
    }

    /// Seats available, held and booked right now.
    pub fn availability(&self) -> Availability {
        availability(&self.layout, &self.live)
    }

    /// The same counts per section, in the event's section order.
    pub fn availability_by_section(&self) -> Vec<SectionAvailability<'_>> {
        let event = &self.layout.event;
        event
            .sections
            .iter()
            .map(|section| {
                let in_section = self.layout.seats.iter().filter(|seat| seat.section == section.name);
                SectionAvailability {
                    name: &section.name,
                    tier: section.tier,
                    seats: count_seats(in_section, &self.live),
                }
            })
            .collect()
    }

    pub fn view(&self, filter: &SeatFilter) -> SeatMap<'_> {
        let event = &self.layout.event;
        let seats = self
            .layout
            .seats
            .iter()
            .filter(|seat| filter.section.as_deref().is_none_or(|s| seat.section.eq_ignore_ascii_case(s)))
            .map(|seat| (seat, self.status_of(&seat.label)))
            .filter(|(_, status)| filter.status.is_none_or(|s| s == *status))
            .map(|(seat, status)| SeatView {
                id: event.id.seat_id(&seat.label),
                label: &seat.label,
                row: &seat.row,
                number: seat.number,
                section: &seat.section,
                tier: seat.tier,
                price: Major(seat.price),
                price_cents: seat.price.0,
                status,
            })
            .collect();
        SeatMap { event_id: &event.id, currency: &event.currency, availability: self.availability(), seats }
    }
}

pub async fn seat_map(
    cache: &LayoutCache,
    catalog: &dyn EventCatalog,
    board: &dyn SeatBoard,
    id: &EventId,
) -> Result<LiveLayout, ApiError> {
    let layout = cache.get(catalog, id).await?;
    let live = board.live(id).await?;
    Ok(LiveLayout { layout, live })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EventCreated<'a> {
    event_id: &'a EventId,
    name: &'a str,
    date: DateTime<Utc>,
    total_seats: u32,
}

pub async fn create_event(
    catalog: &dyn EventCatalog,
    publisher: &dyn Publisher,
    request: NewEventRequest,
    now: DateTime<Utc>,
) -> Result<Event, ApiError> {
    let event = request.into_event(EventId::generate(), now)?;
    catalog.insert(&event).await?;
    tracing::info!(event.id = %event.id, seats = event.total_seats, "event created");
    let message = Envelope::new(
        kafka::EVENT_CREATED,
        EventCreated { event_id: &event.id, name: &event.name, date: event.date, total_seats: event.total_seats },
    );
    // The event is stored; the notification is informational (nothing
    // consumes it to keep state), so a broker outage is logged, not failed.
    if let Err(err) = publisher.publish(kafka::EVENT_CREATED, event.id.as_ref(), &message.to_bytes()?).await {
        tracing::warn!(event.id = %event.id, error = %err, "event.created not published");
    }
    Ok(event)
}
