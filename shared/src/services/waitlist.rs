//! The waiting list of a sold-out event: fans join, look up their place and
//! leave over HTTP; when seats come back (a cancel, a hold that lapsed, a
//! reservation that failed), the waitlist-offerer consumer offers them to
//! the first fan in line whose request fits, as a PENDING booking held for
//! the claim window. Paying that booking claims the seats; if the window
//! lapses, the booking expires like any other, and its booking.expired
//! brings the seats back here for the next fan.
//!
//! An offer takes seats the way a buyer does: Redis hold first, then the
//! PostgreSQL insert whose unique seat index is the judge. So a buyer who
//! books a seat the moment it comes back and the offer for it can never
//! both have it; whoever loses is told (the buyer with a 409, the offer by
//! moving on to the seats that are still free).

use std::collections::{BTreeSet, HashSet};

use chrono::{DateTime, Utc};
use http::StatusCode;
use uuid::Uuid;

use crate::{
    auth::Claims,
    bookings::Bookings,
    catalog,
    domain::{
        booking::select_seats,
        event::EventId,
        waitlist::{next_offer, Entry, EntryState, EntryView, JoinRequest},
    },
    error::ApiError,
    repo::{booking_ports::CreateConflict, Offer, OfferMade, SeatBoard, WaitlistStore},
};

/// How far down the line one run of the offerer looks for a request that
/// fits the seats that came back.
const LINE_SCAN: u32 = 200;

pub struct Waitlist<'a> {
    /// Seat holds, the booking store, the outbox relay and the catalog, as
    /// POST /bookings uses them.
    pub bookings: Bookings<'a>,
    pub list: Box<dyn WaitlistStore + 'a>,
    pub board: Box<dyn SeatBoard + 'a>,
}

fn not_on_list() -> ApiError {
    ApiError::refused(StatusCode::NOT_FOUND, "NOT_ON_WAITLIST", "You are not on this event's waiting list")
}

impl Waitlist<'_> {
    /// Puts the fan in line (or answers their place if they are already);
    /// true if the entry is new. Only an event without enough seats on sale
    /// has a waiting list: with seats available, the fan should book them.
    pub async fn join(
        &self,
        fan: &Claims,
        event: &EventId,
        request: JoinRequest,
        now: DateTime<Utc>,
    ) -> Result<(EntryView, bool), ApiError> {
        let seats = request.seats()?;
        let b = &self.bookings;
        let live = catalog::seat_map(b.layouts, b.catalog.as_ref(), self.board.as_ref(), event).await?;
        if live.layout.event.date <= now {
            return Err(ApiError::conflict("This event has already taken place"));
        }
        let available = live.availability().available;
        if available >= u32::from(seats) {
            return Err(ApiError::Refused {
                status: StatusCode::CONFLICT,
                code: "SEATS_AVAILABLE",
                message: format!("{available} seats are on sale for this event: book them instead of waiting"),
                details: Some(serde_json::json!({ "available": available })),
            });
        }
        if b.gate.offer_terms(event, now).await?.is_none() {
            return Err(ApiError::refused(
                StatusCode::CONFLICT,
                "QUEUE_FIRST",
                format!("Seats that come back go to this on-sale's waiting room first: join it at POST /events/{event}/queue"),
            ));
        }
        let (entry, new) = self.list.join(event, fan.sub, seats).await?;
        if new {
            tracing::info!(event.id = %event, seats, "joined the waiting list");
        }
        Ok((self.view(&entry).await?, new))
    }

    /// The fan's entry for the event: their place while waiting, the offer
    /// once made, or how it ended.
    pub async fn place(&self, fan: &Claims, event: &EventId) -> Result<EntryView, ApiError> {
        let entry = self.list.latest(event, fan.sub).await?.ok_or_else(not_on_list)?;
        self.view(&entry).await
    }

    /// Takes the fan off the line. An offer is declined by cancelling its
    /// booking instead, so its seats go on down the line at once.
    pub async fn leave(&self, fan: &Claims, event: &EventId) -> Result<EntryView, ApiError> {
        let entry = self.list.leave(event, fan.sub).await?.ok_or_else(not_on_list)?;
        if entry.state == EntryState::Offered {
            let booking = entry.booking_id.map(|id| id.to_string()).unwrap_or_default();
            return Err(ApiError::Refused {
                status: StatusCode::CONFLICT,
                code: "OFFER_PENDING",
                message: format!("Seats are held for you in booking {booking}: cancel it to decline them"),
                details: Some(serde_json::json!({ "bookingId": booking })),
            });
        }
        self.view(&entry).await
    }

    async fn view(&self, entry: &Entry) -> Result<EntryView, ApiError> {
        let position = match entry.state {
            EntryState::Waiting => Some(self.list.position(entry).await?),
            _ => None,
        };
        let status = match entry.booking_id {
            Some(id) => self.bookings.repo.find(id).await?.map(|booking| booking.status),
            None => None,
        };
        Ok(EntryView::of(entry, position, status))
    }

    /// Booking `closed` (of `event`, holding `labels`) was cancelled, lapsed
    /// or failed. If it was an offer, its fan's turn is over; then each of
    /// its seats that PostgreSQL gives nobody now is offered down the line.
    /// Safe to run again for the same booking: the seats it offered are no
    /// longer free, and a passed offer stays passed. Returns the offers made.
    pub async fn seats_returned(
        &self,
        event: &EventId,
        closed: Uuid,
        labels: &[String],
        now: DateTime<Utc>,
    ) -> Result<Vec<Uuid>, ApiError> {
        if let Some(entry) = self.list.pass_offer(closed).await? {
            tracing::info!(event.id = %event, booking.id = %closed, entry = entry.id, "waiting-list offer passed");
        }
        let b = &self.bookings;
        let layout = b.layouts.get(b.catalog.as_ref(), event).await?;
        if layout.event.date <= now || labels.is_empty() {
            return Ok(Vec::new());
        }
        // The waiting list is no side door: not before the sale opens, not
        // ahead of fans still in its waiting room (the queue admits them as
        // seats come back), and each offer under the rules POST /bookings
        // applies to the same fan (seat limit, cool-downs).
        let Some(terms) = b.gate.offer_terms(event, now).await? else {
            tracing::info!(event.id = %event, "returned seats left on sale for the waiting room");
            return Ok(Vec::new());
        };
        let owned: HashSet<String> = b.repo.active_seats(event, labels).await?.into_iter().map(|o| o.label).collect();
        // Layout order, so a pair is offered seats side by side where the
        // returned ones are.
        let mut free: Vec<String> = layout
            .seats
            .iter()
            .map(|seat| &seat.label)
            .filter(|label| labels.contains(label) && !owned.contains(*label))
            .cloned()
            .collect();
        if free.is_empty() {
            return Ok(Vec::new());
        }
        let line = self.list.waiting(event, LINE_SCAN).await?;
        let expires_at =
            now + chrono::Duration::from_std(b.config.waitlist_claim).unwrap_or(chrono::Duration::minutes(15));
        let mut passed_over = BTreeSet::new();
        let mut offers = Vec::new();
        while let Some((entry, seats)) = next_offer(&line, &free, &passed_over) {
            if let Err(refusal) = b.check_purchase_limits(entry.user_id, &layout.event, &seats, terms, now).await {
                // Not this fan's turn for these seats (over their limit, or
                // cooling down from seats they let go); they keep their place.
                tracing::info!(event.id = %event, entry = entry.id, error = %refusal, "waiting-list fan passed over");
                passed_over.insert(entry.id);
                continue;
            }
            let booking = Uuid::now_v7();
            let owner = booking.to_string();
            let taken = b.holds.hold(event, &owner, &seats, expires_at.timestamp_millis()).await?;
            if !taken.is_empty() {
                // A buyer was quicker: those seats are theirs. The fan keeps
                // their turn for the seats that are left.
                free.retain(|label| !taken.contains(label));
                continue;
            }
            let seat_ids: Vec<String> = seats.iter().map(|label| event.seat_id(label)).collect();
            let selection = select_seats(&layout, &seat_ids)?;
            let offer = Offer { entry, booking, selection: &selection, currency: &layout.event.currency, expires_at };
            let made = self.list.offer(&offer).await;
            if !matches!(made, Ok(OfferMade::Made { .. })) {
                if let Err(err) = b.holds.release(event, &owner, &seats).await {
                    tracing::warn!(error = %err, "could not release the hold of an offer that was not made");
                }
            }
            match made? {
                OfferMade::Made { booking, outbox } => {
                    tracing::info!(event.id = %event, booking.id = %booking.id, entry = entry.id, seats = ?seats, "seats offered to the waiting list");
                    free.retain(|label| !seats.contains(label));
                    offers.push(booking.id);
                    b.relay(&outbox).await;
                }
                OfferMade::Refused(CreateConflict::SeatsTaken(owners)) => {
                    b.restore_holds(event, &owners).await;
                    free.retain(|label| !owners.iter().any(|owner| &owner.label == label));
                }
                // They are booking this event themselves, or left, or another
                // offer reached them first: the next fan's turn.
                OfferMade::Refused(CreateConflict::OpenBookingExists) | OfferMade::EntryGone => {
                    passed_over.insert(entry.id);
                }
            }
        }
        Ok(offers)
    }
}
