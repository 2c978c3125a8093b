//! Events and their seats: ids, validation of new events, seat generation,
//! and the views the API returns.

use std::{collections::HashSet, fmt};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::fields::Invalid;
use super::{
    fields::FieldCheck,
    money::{Cents, Major},
    user::Tier,
};

pub const MAX_SEATS_PER_EVENT: u32 = 10_000;
/// Seats per generated row when an event has no sections (as the original).
pub const DEFAULT_SEATS_PER_ROW: u32 = 10;
const MAX_SECTIONS: usize = 50;

/// `[a-z0-9-]`, 1 to 64 characters: what seed slugs and UUIDs look like. Ids
/// are checked before any query is built, so no request can smuggle an
/// operator or a path into a store.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EventId(String);

impl EventId {
    pub fn parse(raw: &str) -> Result<EventId, Invalid> {
        let valid = (1..=64).contains(&raw.len())
            && raw.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !raw.starts_with('-');
        if valid {
            Ok(EventId(raw.to_owned()))
        } else {
            Err(Invalid::field("id", "is not a valid event id"))
        }
    }

    pub fn generate() -> EventId {
        EventId(uuid::Uuid::now_v7().to_string())
    }

    pub fn seat_id(&self, label: &str) -> String {
        format!("{}_{label}", self.0)
    }
}

impl TryFrom<String> for EventId {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, String> {
        EventId::parse(&raw).map_err(|_| "is not a valid event id".to_owned())
    }
}

impl From<EventId> for String {
    fn from(id: EventId) -> String {
        id.0
    }
}

impl AsRef<str> for EventId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SeatStatus {
    Available,
    Held,
    Booked,
}

impl std::str::FromStr for SeatStatus {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        match s {
            "available" => Ok(SeatStatus::Available),
            "held" => Ok(SeatStatus::Held),
            "booked" => Ok(SeatStatus::Booked),
            _ => Err(Invalid::field("status", "must be one of available, held, booked")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Venue {
    pub name: String,
    pub city: Option<String>,
    pub address: Option<String>,
    pub capacity: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Artist {
    pub name: String,
    pub genre: Option<String>,
}

/// A block of seats with one tier and price; rows are named in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Section {
    pub name: String,
    pub tier: Tier,
    pub price_cents: i64,
    pub rows: Vec<String>,
    pub seats_per_row: u32,
}

impl Section {
    pub fn seat_count(&self) -> u32 {
        self.rows.len() as u32 * self.seats_per_row
    }
}

/// An event with its seats laid out: what booking and the seat map work
/// from (events never change once created, so this is cached).
pub struct Layout {
    pub event: Event,
    pub seats: Vec<Seat>,
}

/// An event as stored; immutable once created (bookings change seats, not
/// events), which is what makes caching its layout per instance safe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: EventId,
    pub name: String,
    pub description: String,
    pub category: String,
    pub date: DateTime<Utc>,
    pub venue: Venue,
    pub artist: Option<Artist>,
    pub currency: String,
    pub sections: Vec<Section>,
    pub total_seats: u32,
    /// Seats one user may hold or own for this event (open and paid bookings
    /// together); `None` means the deployment's default.
    pub max_seats_per_user: Option<u32>,
    /// When fans may book while the event has no on-sale of its own.
    pub sales_start: SalesStart,
    pub created_at: DateTime<Utc>,
}

/// When an event that has no on-sale of its own goes on sale; once the
/// organiser sets one (PUT /events/{id}/onsale), the on-sale decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SalesStart {
    /// Created before events waited for their sale: on sale from the start.
    Legacy,
    /// The create call said when (`salesOpenAt`).
    At(DateTime<Utc>),
    /// Off sale until the organiser sets the on-sale: an event announced
    /// now and opening on Friday is not bookable by bots in between.
    WhenSet,
}

impl SalesStart {
    /// Whether fans may book at `now` when no on-sale says otherwise; if
    /// not, when it opens (`None`: when the organiser sets it).
    pub fn opens(self, now: DateTime<Utc>) -> Result<(), Option<DateTime<Utc>>> {
        match self {
            SalesStart::Legacy => Ok(()),
            SalesStart::At(at) if at <= now => Ok(()),
            SalesStart::At(at) => Err(Some(at)),
            SalesStart::WhenSet => Err(None),
        }
    }

    pub fn opens_at(self) -> Option<DateTime<Utc>> {
        match self {
            SalesStart::At(at) => Some(at),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seat {
    pub label: String,
    pub row: String,
    pub number: u32,
    pub section: String,
    pub tier: Tier,
    pub price: Cents,
}

impl Event {
    /// Every seat, in row order: `A1, A2, …, B1, …`.
    pub fn seats(&self) -> Vec<Seat> {
        let mut seats = Vec::with_capacity(self.total_seats as usize);
        for section in &self.sections {
            for row in &section.rows {
                for number in 1..=section.seats_per_row {
                    seats.push(Seat {
                        label: format!("{row}{number}"),
                        row: row.clone(),
                        number,
                        section: section.name.clone(),
                        tier: section.tier,
                        price: Cents(section.price_cents),
                    });
                }
            }
        }
        seats
    }

    pub fn min_price(&self) -> Cents {
        self.sections.iter().map(|s| Cents(s.price_cents)).min().unwrap_or_default()
    }
}

/// Row names in order: A … Z, AA … AZ, BA … (bijective base 26).
pub fn row_name(mut index: u32) -> String {
    let mut name = Vec::new();
    loop {
        name.push(b'A' + (index % 26) as u8);
        if index < 26 {
            break;
        }
        index = index / 26 - 1;
    }
    name.reverse();
    String::from_utf8(name).expect("ASCII letters")
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum VenueInput {
    Name(String),
    Full { name: Option<String>, city: Option<String>, address: Option<String>, capacity: Option<u32> },
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtistInput {
    pub name: Option<String>,
    pub genre: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SectionInput {
    pub name: Option<String>,
    pub tier: Option<String>,
    pub price: Option<serde_json::Number>,
    pub rows: Option<u32>,
    pub seats_per_row: Option<u32>,
}

/// The body of `POST /events`, every field optional so validation can name
/// all problems at once.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewEventRequest {
    pub name: Option<String>,
    pub venue: Option<VenueInput>,
    pub date: Option<String>,
    pub total_seats: Option<u32>,
    pub price: Option<serde_json::Number>,
    pub description: Option<String>,
    pub category: Option<String>,
    pub currency: Option<String>,
    pub artist: Option<ArtistInput>,
    pub sections: Option<Vec<SectionInput>>,
    pub max_seats_per_user: Option<u32>,
    /// When bookings open (RFC 3339, not after the event); without it the
    /// event stays off sale until its on-sale is set.
    pub sales_open_at: Option<String>,
}

fn text(max: usize) -> impl Fn(&str) -> Result<String, &'static str> {
    move |raw| {
        let value = raw.trim();
        if value.is_empty() {
            Err("is required")
        } else if value.chars().count() > max {
            Err("is too long")
        } else if value.chars().any(|c| c.is_control() && c != '\n') {
            Err("must not contain control characters")
        } else {
            Ok(value.to_owned())
        }
    }
}

fn category(raw: &str) -> Result<String, &'static str> {
    let value = raw.trim().to_lowercase();
    let valid = (1..=40).contains(&value.len())
        && value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == ' ');
    if valid {
        Ok(value)
    } else {
        Err("must be 1-40 letters, digits, spaces or dashes")
    }
}

impl NewEventRequest {
    /// Validates the request and builds the event it describes. `now` is
    /// passed in so "in the future" is testable.
    pub fn into_event(self, id: EventId, now: DateTime<Utc>) -> Result<Event, Invalid> {
        let mut check = FieldCheck::default();
        let name = check.required("name", self.name.as_deref(), text(200));
        let description = check.required("description", self.description.as_deref(), text(5000));
        let category = check.required("category", self.category.as_deref(), category);
        let date = check.required("date", self.date.as_deref(), |raw| {
            let date = DateTime::parse_from_rfc3339(raw.trim())
                .map_err(|_| "must be an ISO 8601 date-time with a timezone, e.g. 2027-06-01T20:00:00Z")?
                .with_timezone(&Utc);
            if date <= now {
                return Err("must be in the future");
            }
            Ok(date)
        });
        let currency = check
            .optional("currency", self.currency.as_deref(), |raw| {
                let code = raw.trim().to_uppercase();
                if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
                    Ok(code)
                } else {
                    Err("must be an ISO 4217 code such as USD")
                }
            })
            .unwrap_or_else(|| "USD".to_owned());
        let total_seats = match self.total_seats {
            None => {
                check.fail("totalSeats", "is required");
                None
            }
            Some(n) if !(1..=MAX_SEATS_PER_EVENT).contains(&n) => {
                check.fail("totalSeats", "must be between 1 and 10000");
                None
            }
            Some(n) => Some(n),
        };
        let default_price = self.price.as_ref().and_then(|p| {
            let parsed = Cents::from_major(p);
            if let Err(problem) = parsed {
                check.fail("price", problem);
            }
            parsed.ok()
        });
        let artist = self.artist.and_then(|a| {
            let name = check.required("artist.name", a.name.as_deref(), text(200))?;
            let genre = check.optional("artist.genre", a.genre.as_deref(), text(100));
            Some(Artist { name, genre })
        });
        let sections = match self.sections {
            None => {
                if default_price.is_none() && self.price.is_none() {
                    check.fail("price", "is required");
                }
                let rows = total_seats.map_or(0, |n| n.div_ceil(DEFAULT_SEATS_PER_ROW));
                default_sections(total_seats.unwrap_or(0), default_price.unwrap_or_default(), rows)
            }
            Some(inputs) => parse_sections(&mut check, inputs, default_price, total_seats),
        };
        let venue = match self.venue {
            None => {
                check.fail("venue", "is required");
                None
            }
            Some(VenueInput::Name(name)) => check.required("venue", Some(&name), text(200)).map(|name| Venue {
                name,
                city: None,
                address: None,
                capacity: total_seats.unwrap_or(0),
            }),
            Some(VenueInput::Full { name, city, address, capacity }) => {
                let name = check.required("venue.name", name.as_deref(), text(200));
                let city = check.optional("venue.city", city.as_deref(), text(100));
                let address = check.optional("venue.address", address.as_deref(), text(300));
                let capacity = capacity.or(total_seats).unwrap_or(0);
                if total_seats.is_some_and(|total| capacity < total) {
                    check.fail("venue.capacity", "must be at least totalSeats");
                }
                name.map(|name| Venue { name, city, address, capacity })
            }
        };
        if self.max_seats_per_user.is_some_and(|n| !(1..=100).contains(&n)) {
            check.fail("maxSeatsPerUser", "must be between 1 and 100");
        }
        let sales_open_at = check.optional("salesOpenAt", self.sales_open_at.as_deref(), |raw| {
            let at = DateTime::parse_from_rfc3339(raw.trim())
                .map_err(|_| "must be an ISO 8601 date-time with a timezone, e.g. 2027-05-01T10:00:00Z")?
                .with_timezone(&Utc);
            match date {
                Some(date) if at >= date => Err("must be before the event's date"),
                _ => Ok(at),
            }
        });
        check.finish()?;
        Ok(Event {
            id,
            name: name.expect("checked"),
            description: description.expect("checked"),
            category: category.expect("checked"),
            date: date.expect("checked"),
            venue: venue.expect("checked"),
            artist,
            currency,
            sections,
            total_seats: total_seats.expect("checked"),
            max_seats_per_user: self.max_seats_per_user,
            sales_start: sales_open_at.map_or(SalesStart::WhenSet, SalesStart::At),
            created_at: now,
        })
    }
}

/// Rows of ten, as the original generated them; the last row may be short,
/// so it becomes a section of its own.
fn default_sections(total: u32, price: Cents, rows: u32) -> Vec<Section> {
    if total == 0 {
        return Vec::new();
    }
    let full_rows = total / DEFAULT_SEATS_PER_ROW;
    let remainder = total % DEFAULT_SEATS_PER_ROW;
    let mut sections = Vec::new();
    if full_rows > 0 {
        sections.push(Section {
            name: "General".into(),
            tier: Tier::Regular,
            price_cents: price.0,
            rows: (0..full_rows).map(row_name).collect(),
            seats_per_row: DEFAULT_SEATS_PER_ROW,
        });
    }
    if remainder > 0 {
        sections.push(Section {
            name: if full_rows > 0 { "General (last row)".into() } else { "General".into() },
            tier: Tier::Regular,
            price_cents: price.0,
            rows: vec![row_name(rows - 1)],
            seats_per_row: remainder,
        });
    }
    sections
}

fn parse_sections(
    check: &mut FieldCheck,
    inputs: Vec<SectionInput>,
    default_price: Option<Cents>,
    total_seats: Option<u32>,
) -> Vec<Section> {
    if inputs.is_empty() || inputs.len() > MAX_SECTIONS {
        check.fail("sections", "must list 1 to 50 sections");
        return Vec::new();
    }
    let mut sections = Vec::new();
    let mut names = HashSet::new();
    let mut next_row = 0u32;
    let mut seat_total = 0u64;
    for (i, input) in inputs.into_iter().enumerate() {
        let field = |name: &str| format!("sections[{i}].{name}");
        let name = check.required(&field("name"), input.name.as_deref(), text(60));
        if let Some(name) = &name {
            if !names.insert(name.to_lowercase()) {
                check.fail(&field("name"), "must be unique within the event");
            }
        }
        let tier = check
            .optional(&field("tier"), input.tier.as_deref(), |t| {
                t.parse::<Tier>().map_err(|_| "must be one of regular, premium, vip")
            })
            .unwrap_or_default();
        let price = match (&input.price, default_price) {
            (Some(raw), _) => match Cents::from_major(raw) {
                Ok(cents) => Some(cents),
                Err(problem) => {
                    check.fail(&field("price"), problem);
                    None
                }
            },
            (None, Some(default)) => Some(default),
            (None, None) => {
                check.fail(&field("price"), "is required (or set a top-level price)");
                None
            }
        };
        let rows = input.rows.unwrap_or(1);
        let seats_per_row = input.seats_per_row.unwrap_or(0);
        if !(1..=1000).contains(&rows) {
            check.fail(&field("rows"), "must be between 1 and 1000");
        }
        if !(1..=500).contains(&seats_per_row) {
            check.fail(&field("seatsPerRow"), "is required, between 1 and 500");
        }
        seat_total += u64::from(rows) * u64::from(seats_per_row);
        if let (Some(name), Some(price)) = (name, price) {
            sections.push(Section {
                name,
                tier,
                price_cents: price.0,
                rows: (next_row..next_row + rows.min(1000)).map(row_name).collect(),
                seats_per_row,
            });
        }
        next_row += rows.min(1000);
    }
    if let Some(total) = total_seats {
        if seat_total != u64::from(total) {
            check.fail("totalSeats", &format!("must equal the seats in all sections ({seat_total})"));
        }
    }
    sections
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Availability {
    pub available: u32,
    pub held: u32,
    pub booked: u32,
    pub total: u32,
}

impl Availability {
    /// A new event's seats: every one free.
    pub fn all_free(total: u32) -> Self {
        Availability { available: total, total, ..Default::default() }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SectionView<'a> {
    pub name: &'a str,
    pub tier: Tier,
    pub price: Major,
    pub price_cents: i64,
    pub rows: &'a [String],
    pub seat_count: u32,
}

/// The JSON shape of an event in list and detail responses.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventView<'a> {
    pub id: &'a EventId,
    pub name: &'a str,
    pub description: &'a str,
    pub category: &'a str,
    pub date: DateTime<Utc>,
    pub venue: &'a Venue,
    pub artist: Option<&'a Artist>,
    pub currency: &'a str,
    /// The lowest seat price, as the original's single `price`.
    pub price: Major,
    pub price_cents: i64,
    pub total_seats: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_seats_per_user: Option<u32>,
    /// When bookings open, if the create call said so (an on-sale, once
    /// set, is at GET /events/{id}/queue).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sales_open_at: Option<DateTime<Utc>>,
    pub sections: Vec<SectionView<'a>>,
    pub availability: Availability,
    pub created_at: DateTime<Utc>,
}

impl<'a> EventView<'a> {
    pub fn new(event: &'a Event, availability: Availability) -> Self {
        EventView {
            id: &event.id,
            name: &event.name,
            description: &event.description,
            category: &event.category,
            date: event.date,
            venue: &event.venue,
            artist: event.artist.as_ref(),
            currency: &event.currency,
            price: Major(event.min_price()),
            price_cents: event.min_price().0,
            total_seats: event.total_seats,
            max_seats_per_user: event.max_seats_per_user,
            sales_open_at: event.sales_start.opens_at(),
            sections: event
                .sections
                .iter()
                .map(|s| SectionView {
                    name: &s.name,
                    tier: s.tier,
                    price: Major(Cents(s.price_cents)),
                    price_cents: s.price_cents,
                    rows: &s.rows,
                    seat_count: s.seat_count(),
                })
                .collect(),
            availability,
            created_at: event.created_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        "2026-11-25T12:00:00Z".parse().unwrap()
    }

    fn build(body: serde_json::Value) -> Result<Event, Invalid> {
        serde_json::from_value::<NewEventRequest>(body).unwrap().into_event(EventId::generate(), now())
    }

    fn fields(err: Invalid) -> Vec<String> {
        err.0.into_keys().collect()
    }

    fn base() -> serde_json::Value {
        json!({ "name": "Show", "venue": "Hall", "date": "2027-01-01T20:00:00Z", "totalSeats": 25,
                "price": 45, "description": "Live", "category": "concert" })
    }

    #[test]
    fn rows_are_named_like_spreadsheet_columns() {
        assert_eq!(row_name(0), "A");
        assert_eq!(row_name(25), "Z");
        assert_eq!(row_name(26), "AA");
        assert_eq!(row_name(701), "ZZ");
        assert_eq!(row_name(702), "AAA");
    }

    #[test]
    fn without_sections_seats_come_in_rows_of_ten() {
        let event = build(base()).unwrap();
        let labels: Vec<String> = event.seats().into_iter().map(|s| s.label).collect();
        assert_eq!(labels.len(), 25);
        assert_eq!(&labels[..2], ["A1", "A2"]);
        assert_eq!(labels[10], "B1");
        assert_eq!(labels.last().unwrap(), "C5");
        assert!(event.seats().iter().all(|s| s.price == Cents(4_500)));
    }

    #[test]
    fn sections_get_their_own_tier_price_and_rows() {
        let mut body = base();
        body["totalSeats"] = 100.into();
        body["sections"] = json!([
            { "name": "VIP", "tier": "vip", "price": 225, "rows": 1, "seatsPerRow": 10 },
            { "name": "Premium", "tier": "premium", "price": 180, "rows": 1, "seatsPerRow": 10 },
            { "name": "Regular", "price": 150, "rows": 1, "seatsPerRow": 80 }
        ]);
        let event = build(body).unwrap();
        let seats = event.seats();
        assert_eq!(seats.len(), 100);
        assert_eq!((seats[0].label.as_str(), seats[0].tier, seats[0].price), ("A1", Tier::Vip, Cents(22_500)));
        assert_eq!((seats[10].label.as_str(), seats[10].price), ("B1", Cents(18_000)));
        assert_eq!((seats[99].label.as_str(), seats[99].tier), ("C80", Tier::Regular));
        assert_eq!(event.min_price(), Cents(15_000));
    }

    #[test]
    fn every_bad_field_is_named() {
        let err = build(json!({ "date": "yesterday", "totalSeats": 0, "price": -1, "category": "$gt" })).unwrap_err();
        assert_eq!(fields(err), ["category", "date", "description", "name", "price", "totalSeats", "venue"]);
    }

    #[test]
    fn dates_must_be_in_the_future() {
        let mut body = base();
        body["date"] = "2026-11-01T00:00:00Z".into();
        assert_eq!(fields(build(body).unwrap_err()), ["date"]);
    }

    #[test]
    fn section_totals_must_match_total_seats() {
        let mut body = base();
        body["sections"] = json!([{ "name": "A", "price": 10, "rows": 2, "seatsPerRow": 10 }]);
        assert_eq!(fields(build(body).unwrap_err()), ["totalSeats"]);
    }

    #[test]
    fn section_names_must_be_unique() {
        let mut body = base();
        body["totalSeats"] = 20.into();
        body["sections"] = json!([
            { "name": "Floor", "rows": 1, "seatsPerRow": 10 },
            { "name": "floor", "rows": 1, "seatsPerRow": 10 }
        ]);
        assert_eq!(fields(build(body).unwrap_err()), ["sections[1].name"]);
    }

    #[test]
    fn event_ids_refuse_operators_and_paths() {
        for bad in ["", "{\"$gt\":\"\"}", "../etc", "A", "-x", &"a".repeat(65), "a b", "évent"] {
            assert!(EventId::parse(bad).is_err(), "{bad}");
        }
        assert!(EventId::parse("taylor-swift-eras-tour").is_ok());
        assert!(EventId::parse(EventId::generate().as_ref()).is_ok());
    }
}
