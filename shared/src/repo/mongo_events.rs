//! Events and the seat read model in the Mongo API (DocumentDB on AWS,
//! nx-27017 locally). Only the common subset both support: CRUD, indexes
//! with explicit names, count, simple filters. Every filter is built from
//! typed values, never from request JSON.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::{
    bson::{self, doc, Document},
    options::{FindOptions, IndexOptions},
    Collection, Database, IndexModel,
};
use serde::{Deserialize, Serialize};

use super::{EventCatalog, EventQuery, SeatClaim, SeatReadModel, TakenSeat};
use crate::{
    domain::{
        event::{Artist, Event, EventId, SalesStart, SeatStatus, Section, Venue},
        user::Tier,
    },
    error::ApiError,
};

pub const EVENTS: &str = "events";
pub const SEATS: &str = "seats";
const DUPLICATE_KEY: i32 = 11000;

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventDoc {
    #[serde(rename = "_id")]
    id: String,
    name: String,
    description: String,
    category: String,
    date: bson::DateTime,
    venue: Venue,
    artist: Option<Artist>,
    currency: String,
    sections: Vec<Section>,
    total_seats: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_seats_per_user: Option<u32>,
    /// `SalesStart`: a time, or off sale until the on-sale is set; a
    /// document with neither predates the rule and is on sale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sales_open_at: Option<bson::DateTime>,
    #[serde(default)]
    awaits_on_sale: bool,
    created_at: bson::DateTime,
    /// Lower-cased name, venue and artist: what `q` searches.
    search_text: String,
}

/// One seat of the read model. Its status is kept current by the booking
/// consumers; the API reads live status from Redis and this is the durable
/// copy Redis is rebuilt from.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeatDoc {
    #[serde(rename = "_id")]
    pub id: String,
    pub event_id: String,
    pub label: String,
    pub row: String,
    pub number: u32,
    pub section: String,
    pub tier: Tier,
    pub price_cents: i64,
    pub status: SeatStatus,
    pub booking_id: Option<String>,
}

fn to_bson(date: DateTime<Utc>) -> bson::DateTime {
    bson::DateTime::from_millis(date.timestamp_millis())
}

fn from_bson(date: bson::DateTime) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(date.timestamp_millis()).unwrap_or_default()
}

impl From<&Event> for EventDoc {
    fn from(event: &Event) -> Self {
        let artist = event.artist.as_ref().map(|a| a.name.as_str()).unwrap_or_default();
        EventDoc {
            id: event.id.to_string(),
            name: event.name.clone(),
            description: event.description.clone(),
            category: event.category.clone(),
            date: to_bson(event.date),
            venue: event.venue.clone(),
            artist: event.artist.clone(),
            currency: event.currency.clone(),
            sections: event.sections.clone(),
            total_seats: event.total_seats,
            max_seats_per_user: event.max_seats_per_user,
            sales_open_at: event.sales_start.opens_at().map(to_bson),
            awaits_on_sale: event.sales_start == SalesStart::WhenSet,
            created_at: to_bson(event.created_at),
            search_text: format!("{} {} {}", event.name, event.venue.name, artist).to_lowercase(),
        }
    }
}

impl TryFrom<EventDoc> for Event {
    type Error = ApiError;
    fn try_from(doc: EventDoc) -> Result<Self, ApiError> {
        Ok(Event {
            id: EventId::parse(&doc.id)
                .map_err(|_| ApiError::Internal(anyhow::anyhow!("stored event has an invalid id {}", doc.id)))?,
            name: doc.name,
            description: doc.description,
            category: doc.category,
            date: from_bson(doc.date),
            venue: doc.venue,
            artist: doc.artist,
            currency: doc.currency,
            sections: doc.sections,
            total_seats: doc.total_seats,
            max_seats_per_user: doc.max_seats_per_user,
            sales_start: match (doc.sales_open_at, doc.awaits_on_sale) {
                (Some(at), _) => SalesStart::At(from_bson(at)),
                (None, true) => SalesStart::WhenSet,
                (None, false) => SalesStart::Legacy,
            },
            created_at: from_bson(doc.created_at),
        })
    }
}

pub fn seat_docs(event: &Event) -> Vec<SeatDoc> {
    event
        .seats()
        .into_iter()
        .map(|seat| SeatDoc {
            id: event.id.seat_id(&seat.label),
            event_id: event.id.to_string(),
            label: seat.label,
            row: seat.row,
            number: seat.number,
            section: seat.section,
            tier: seat.tier,
            price_cents: seat.price.0,
            status: SeatStatus::Available,
            booking_id: None,
        })
        .collect()
}

fn is_duplicate_key(err: &mongodb::error::Error) -> bool {
    use mongodb::error::{ErrorKind, WriteFailure};
    match &*err.kind {
        ErrorKind::Write(WriteFailure::WriteError(e)) => e.code == DUPLICATE_KEY,
        ErrorKind::InsertMany(e) => {
            e.write_errors.as_ref().is_some_and(|errs| errs.iter().all(|e| e.code == DUPLICATE_KEY))
        }
        ErrorKind::Command(e) => e.code == DUPLICATE_KEY,
        _ => false,
    }
}

#[derive(Clone)]
pub struct MongoEvents {
    db: Database,
    events: Collection<EventDoc>,
    seats: Collection<SeatDoc>,
}

impl MongoEvents {
    pub fn new(db: &Database, collection_prefix: &str) -> Self {
        MongoEvents {
            db: db.clone(),
            events: db.collection(&format!("{collection_prefix}{EVENTS}")),
            seats: db.collection(&format!("{collection_prefix}{SEATS}")),
        }
    }

    pub fn seats(&self) -> &Collection<SeatDoc> {
        &self.seats
    }

    /// Drops both collections (events and seats). Only for scratch data: the
    /// caller checks they are a test's or a bench's.
    pub async fn drop_collections(&self) -> Result<(), ApiError> {
        self.events.drop().await?;
        self.seats.drop().await?;
        Ok(())
    }

    /// The indexes behind every query this module makes.
    pub async fn create_indexes(&self) -> Result<(), ApiError> {
        let named = |keys: Document, name: &str| {
            IndexModel::builder().keys(keys).options(IndexOptions::builder().name(name.to_owned()).build()).build()
        };
        // The list is sorted by date and filtered by date range…
        self.events.create_index(named(doc! { "date": 1 }, "events_by_date")).await?;
        // …and often by category within a date range.
        self.events.create_index(named(doc! { "category": 1, "date": 1 }, "events_by_category_date")).await?;
        // A seat map, the seed's completeness check and the consumers'
        // per-booking updates all select seats by event.
        self.seats.create_index(named(doc! { "eventId": 1, "label": 1 }, "seats_by_event")).await?;
        // Releasing a booking's seats finds them by booking id.
        self.seats.create_index(named(doc! { "bookingId": 1 }, "seats_by_booking")).await?;
        Ok(())
    }
}

#[async_trait]
impl EventCatalog for MongoEvents {
    async fn insert(&self, event: &Event) -> Result<bool, ApiError> {
        let created = match self.events.insert_one(EventDoc::from(event)).await {
            Ok(_) => true,
            Err(err) if is_duplicate_key(&err) => false,
            Err(err) => return Err(err.into()),
        };
        // Seats are written after the event; a crash in between leaves an
        // event with missing seats, which the next insert (the seed, or a
        // retry) completes without touching seats that already exist.
        let existing = self.seats.count_documents(doc! { "eventId": event.id.as_ref() }).await?;
        let docs = seat_docs(event);
        if existing == 0 {
            for chunk in docs.chunks(1000) {
                self.seats.insert_many(chunk).await?;
            }
        } else if existing < docs.len() as u64 {
            for seat in docs {
                let insert = bson::to_document(&seat).map_err(|e| ApiError::Internal(e.into()))?;
                self.seats.update_one(doc! { "_id": &seat.id }, doc! { "$setOnInsert": insert }).upsert(true).await?;
            }
        }
        Ok(created)
    }

    async fn get(&self, id: &EventId) -> Result<Option<Event>, ApiError> {
        self.events.find_one(doc! { "_id": id.as_ref() }).await?.map(Event::try_from).transpose()
    }

    async fn list(&self, query: &EventQuery) -> Result<(Vec<Event>, u64), ApiError> {
        let mut filter = Document::new();
        if let Some(category) = &query.category {
            filter.insert("category", category.as_str());
        }
        let mut date = Document::new();
        if let Some(from) = query.from {
            date.insert("$gte", to_bson(from));
        }
        if let Some(to) = query.to {
            date.insert("$lte", to_bson(to));
        }
        if !date.is_empty() {
            filter.insert("date", date);
        }
        if let Some(text) = &query.text {
            filter.insert("searchText", doc! { "$regex": escape_regex(&text.to_lowercase()) });
        }
        let total = self.events.count_documents(filter.clone()).await?;
        let options = FindOptions::builder()
            .sort(doc! { "date": 1, "_id": 1 })
            .skip(query.offset)
            .limit(i64::from(query.limit))
            .build();
        let docs: Vec<EventDoc> = self.events.find(filter).with_options(options).await?.try_collect().await?;
        let events = docs.into_iter().map(Event::try_from).collect::<Result<_, _>>()?;
        Ok((events, total))
    }
}

/// `q` is matched literally: every regex metacharacter is escaped.
fn escape_regex(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\^$.|?*+()[]{}/-".contains(c) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

fn seat_ids(event: &EventId, labels: &[String]) -> Vec<String> {
    labels.iter().map(|l| event.seat_id(l)).collect()
}

/// The seat read model's writes, made by the booking consumers. Each is
/// conditional on the seat's current owner, so replaying a message finds
/// its work already done and changes nothing.
#[async_trait]
impl SeatReadModel for MongoEvents {
    /// Marks each claim's seats held by its booking, all or none per claim,
    /// and returns, claim by claim, the seats someone else has and who has
    /// them (empty: held).
    ///
    /// Every claim goes in one `update` command, one conditional statement
    /// each: the usual case (every seat still available) costs one round
    /// trip for the whole batch, where nx-27017 spends a third of a single
    /// update's time per extra statement. The reply only counts matches in
    /// total, so when it falls short one read of the seats' owners tells the
    /// claims apart. Claims that share a seat are still correct (one of them
    /// finds it taken), only slower.
    ///
    /// Filters are plain equalities on purpose: nx-27017 drops the `_id`
    /// condition when it sits beside an `$or`, and DocumentDB plans simple
    /// equality filters best anyway.
    async fn hold_seats(&self, claims: &[SeatClaim<'_>]) -> Result<Vec<Vec<TakenSeat>>, ApiError> {
        if claims.is_empty() {
            return Ok(Vec::new());
        }
        let updates: Vec<Document> = claims
            .iter()
            .map(|claim| {
                doc! {
                    "q": { "_id": { "$in": seat_ids(claim.event, claim.labels) }, "status": "available" },
                    "u": { "$set": { "status": "held", "bookingId": claim.booking } },
                    "multi": true,
                }
            })
            .collect();
        let reply =
            self.db.run_command(doc! { "update": self.seats.name(), "updates": updates, "ordered": false }).await?;
        if reply.get_array("writeErrors").is_ok_and(|errors| !errors.is_empty()) {
            return Err(ApiError::Internal(anyhow::anyhow!("seat hold statements failed: {reply}")));
        }
        let matched = match reply.get("n") {
            Some(bson::Bson::Int32(n)) => i64::from(*n),
            Some(bson::Bson::Int64(n)) => *n,
            _ => return Err(ApiError::Internal(anyhow::anyhow!("seat hold reply has no count: {reply}"))),
        };
        let wanted: usize = claims.iter().map(|claim| claim.labels.len()).sum();
        if matched == wanted as i64 {
            return Ok(vec![Vec::new(); claims.len()]);
        }
        // Some seats were not available: held by their own booking already
        // (a redelivery) or by another. One read finds each seat's owner.
        let ids: Vec<String> = claims.iter().flat_map(|claim| seat_ids(claim.event, claim.labels)).collect();
        let owners: std::collections::HashMap<String, Option<String>> = self
            .seats
            .clone_with_type::<Document>()
            .find(doc! { "_id": { "$in": &ids } })
            .projection(doc! { "bookingId": 1 })
            .await?
            .try_collect::<Vec<Document>>()
            .await?
            .into_iter()
            .filter_map(|seat| {
                let id = seat.get_str("_id").ok()?.to_owned();
                Some((id, seat.get_str("bookingId").ok().map(str::to_owned)))
            })
            .collect();
        let mut taken = Vec::with_capacity(claims.len());
        for claim in claims {
            let others: Vec<TakenSeat> = claim
                .labels
                .iter()
                .filter_map(|label| {
                    let holder = owners.get(&claim.event.seat_id(label)).cloned().flatten();
                    (holder.as_deref() != Some(claim.booking)).then(|| TakenSeat { label: label.clone(), holder })
                })
                .collect();
            if !others.is_empty() {
                // All or none: put back the seats this claim did take.
                self.release_seats(claim.event, claim.booking, claim.labels).await?;
            }
            taken.push(others);
        }
        Ok(taken)
    }

    /// Marks the seats booked by `booking`: its own holds, and seats still
    /// available if the hold message was not applied yet. Seat by seat, and
    /// retried, because the reserver may hold a seat between the two
    /// conditional updates (the topics are consumed independently).
    async fn book_seats(&self, event: &EventId, booking: &str, labels: &[String]) -> Result<u64, ApiError> {
        let set = doc! { "$set": { "status": "booked", "bookingId": booking } };
        let mut booked = 0;
        for id in seat_ids(event, labels) {
            for _ in 0..3 {
                let own = self.seats.update_one(doc! { "_id": &id, "bookingId": booking }, set.clone()).await?;
                if own.matched_count == 1 {
                    booked += 1;
                    break;
                }
                let free = self.seats.update_one(doc! { "_id": &id, "status": "available" }, set.clone()).await?;
                if free.matched_count == 1 {
                    booked += 1;
                    break;
                }
            }
        }
        Ok(booked)
    }

    /// Frees the seats `booking` holds or booked; others' seats are untouched.
    async fn release_seats(&self, event: &EventId, booking: &str, labels: &[String]) -> Result<u64, ApiError> {
        let result = self
            .seats
            .update_many(
                doc! { "_id": { "$in": seat_ids(event, labels) }, "bookingId": booking },
                doc! { "$set": { "status": "available", "bookingId": null } },
            )
            .await?;
        Ok(result.modified_count)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn search_text_is_escaped() {
        assert_eq!(super::escape_regex("a.*b(c)"), r"a\.\*b\(c\)");
    }
}
