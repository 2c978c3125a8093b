//! The Kafka-triggered functions' logic. Each takes an MSK `KafkaEvent`
//! (records grouped by topic-partition, base64 keys and values) and applies
//! every record in order.
//!
//! Idempotent by construction: every write is conditional on the current
//! state and treats "already done for this booking" as success, so a
//! redelivered batch changes nothing. `processed_messages` is an extra guard
//! that skips work known to be done. A record that cannot be decoded goes to
//! `<topic>.dlq` and the batch carries on; a failure worth retrying fails
//! the whole batch, which the event source mapping (or the local emulator)
//! delivers again.

use std::{collections::BTreeMap, future::Future};

use aws_lambda_events::event::kafka::{KafkaEvent, KafkaRecord};
use base64::{engine::general_purpose::STANDARD, Engine};
use serde::Serialize;

use crate::{
    bookings::Bookings,
    domain::{
        booking::{reservation_verdict, BookingStatus, ReservationVerdict},
        event::EventId,
        notice::NoticeKind,
        sales::{SaleMove, SaleRecord},
    },
    error::ApiError,
    kafka::{self, Envelope},
    messages::BookingMessage,
    repo::{
        booking_ports::{BookingRepo, IdempotencyStore, ProcessedLog},
        pg_sales, SeatClaim, SeatReadModel, TakenSeat,
    },
    state::State,
};

#[derive(Debug, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct BatchReport {
    pub processed: usize,
    pub skipped_duplicates: usize,
    pub dead_lettered: usize,
}

/// One decoded record: the topic without the deployment's prefix, and the
/// message.
#[derive(Debug)]
pub struct Delivery {
    pub topic: String,
    pub message: Envelope<BookingMessage>,
}

/// Records in delivery order: by topic-partition, then offset.
fn ordered(event: &KafkaEvent) -> Vec<&KafkaRecord> {
    let mut partitions: Vec<(&String, &Vec<KafkaRecord>)> = event.records.iter().collect();
    partitions.sort_by_key(|(key, _)| key.as_str());
    partitions
        .into_iter()
        .flat_map(|(_, records)| {
            let mut records: Vec<&KafkaRecord> = records.iter().collect();
            records.sort_by_key(|r| r.offset);
            records
        })
        .collect()
}

pub fn decode(record: &KafkaRecord, topic_prefix: &str) -> Result<Delivery, String> {
    let topic = record.topic.as_deref().ok_or("record has no topic")?;
    let topic = topic.strip_prefix(topic_prefix).unwrap_or(topic).to_owned();
    let value = record.value.as_deref().ok_or("record has no value")?;
    let bytes = STANDARD.decode(value).map_err(|e| format!("value is not base64: {e}"))?;
    let message: Envelope<BookingMessage> =
        serde_json::from_slice(&bytes).map_err(|e| format!("value is not a booking message: {e}"))?;
    EventId::parse(&message.data.event_id).map_err(|_| "message has an invalid event id".to_owned())?;
    if message.kind != topic {
        return Err(format!("message type {} arrived on topic {topic}", message.kind));
    }
    Ok(Delivery { topic, message })
}

/// A message a consumer answers with, published after the whole batch is
/// applied and before the batch is marked processed.
pub struct Answer {
    pub topic: &'static str,
    pub key: String,
    pub payload: Vec<u8>,
}

/// How many records of one batch are applied at once. Records that share a
/// booking or a seat still run one after another, in delivery order (see
/// `waves`); the cap keeps within the datastore pools.
const APPLY_CONCURRENCY: usize = 16;

impl Delivery {
    /// What this record touches: its booking and each of its seats.
    fn footprint(&self) -> Vec<String> {
        let data = &self.message.data;
        let mut keys = vec![data.booking_id.to_string()];
        keys.extend(data.seats.iter().map(|label| format!("{}/{label}", data.event_id)));
        keys
    }
}

/// Splits a batch into waves that run one after another. A record joins the
/// wave after the last one that touched any of its booking or seats, so two
/// records that could race keep their delivery order; unrelated records
/// share a wave and run together.
fn waves(deliveries: Vec<Delivery>) -> Vec<Vec<Delivery>> {
    let mut last_wave: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut waves: Vec<Vec<Delivery>> = Vec::new();
    for delivery in deliveries {
        let footprint = delivery.footprint();
        let wave = footprint.iter().filter_map(|key| last_wave.get(key)).map(|w| w + 1).max().unwrap_or(0);
        for key in footprint {
            last_wave.insert(key, wave);
        }
        if waves.len() <= wave {
            waves.resize_with(wave + 1, Vec::new);
        }
        waves[wave].push(delivery);
    }
    waves
}

/// Runs `apply` on every item, `APPLY_CONCURRENCY` at a time, and collects
/// the results in completion order. The first failure fails the whole call.
async fn concurrently<T, R, F, Fut>(items: Vec<T>, apply: F) -> Result<Vec<R>, ApiError>
where
    F: Fn(T) -> Fut,
    Fut: Future<Output = Result<R, ApiError>>,
{
    use futures::{StreamExt, TryStreamExt};
    futures::stream::iter(items.into_iter().map(apply)).buffer_unordered(APPLY_CONCURRENCY).try_collect().await
}

/// Applies `apply` to every delivery, wave by wave (see `waves`), and
/// collects the answers. The first failure fails the batch.
pub async fn apply_in_waves<F, Fut>(deliveries: Vec<Delivery>, apply: F) -> Result<Vec<Answer>, ApiError>
where
    F: Fn(Delivery) -> Fut,
    Fut: Future<Output = Result<Option<Answer>, ApiError>>,
{
    let mut answers = Vec::new();
    for wave in waves(deliveries) {
        answers.extend(concurrently(wave, &apply).await?.into_iter().flatten());
    }
    Ok(answers)
}

/// Decodes the batch, drops messages this consumer already processed (and
/// duplicates within the batch), hands the rest to `apply` in delivery
/// order; then publishes the answers (concurrently: their order across
/// bookings does not matter, and waiting for each acknowledgement in turn
/// would cap the consumer at one broker round trip per message); then marks
/// the batch processed. A crash anywhere before the marks means a
/// redelivery, which is harmless.
pub async fn consume<F, Fut>(
    state: &State,
    consumer: &str,
    event: KafkaEvent,
    apply: F,
) -> Result<BatchReport, ApiError>
where
    F: FnOnce(Vec<Delivery>) -> Fut,
    Fut: Future<Output = Result<Vec<Answer>, ApiError>>,
{
    let store = state.booking_repo();
    let mut report = BatchReport::default();
    let mut deliveries = Vec::new();
    for record in ordered(&event) {
        match decode(record, &state.config.topic_prefix) {
            Ok(delivery) => deliveries.push(delivery),
            Err(reason) => {
                dead_letter(state, record, &reason).await?;
                report.dead_lettered += 1;
            }
        }
    }
    let ids: Vec<uuid::Uuid> = deliveries.iter().map(|d| d.message.id).collect();
    let done = store.processed_among(consumer, &ids).await?;
    let mut seen = std::collections::HashSet::new();
    let before = deliveries.len();
    deliveries.retain(|d| !done.contains(&d.message.id) && seen.insert(d.message.id));
    report.skipped_duplicates = before - deliveries.len();
    let applied: Vec<uuid::Uuid> = deliveries.iter().map(|d| d.message.id).collect();
    let answers = apply(deliveries).await?;
    if !answers.is_empty() {
        use kafka::Publisher;
        let publisher = state.publisher();
        let sends = answers.iter().map(|a| publisher.publish(a.topic, &a.key, &a.payload));
        futures::future::try_join_all(sends).await?;
    }
    if !applied.is_empty() {
        store.mark_processed(consumer, &applied).await?;
    }
    report.processed = applied.len();
    Ok(report)
}

/// Sends one record to its topic's dead-letter topic with the reason, as
/// delivered (base64 key and value). Used for undecodable records here and
/// by the local emulator for batches that fail every attempt.
pub async fn dead_letter(state: &State, record: &KafkaRecord, reason: &str) -> Result<(), ApiError> {
    let topic = record.topic.as_deref().unwrap_or("unknown");
    let topic = topic.strip_prefix(&state.config.topic_prefix).unwrap_or(topic);
    tracing::error!(topic, partition = record.partition, offset = record.offset, reason, "dead-lettering record");
    let body = serde_json::json!({
        "reason": reason,
        "topic": topic,
        "partition": record.partition,
        "offset": record.offset,
        "key": record.key,
        "value": record.value,
    });
    let publisher = state.publisher();
    use kafka::Publisher;
    publisher.publish(&kafka::dead_letter_topic(topic), "dead-letter", body.to_string().as_bytes()).await
}

/// booking.requested → hold the seats in the Mongo read model, then answer
/// seat.reserved or seat.reservation_failed. A redelivery finds the seats
/// held by its own booking and answers seat.reserved again.
///
/// Wave by wave (see `waves`): one Mongo command holds the seats of the
/// whole wave, then one PostgreSQL read fetches the status of every booking
/// whose hold succeeded, instead of a round trip of each per booking.
pub async fn reserve_seats(state: &State, event: KafkaEvent) -> Result<BatchReport, ApiError> {
    let (events, store) = (state.events(), state.booking_repo());
    let (events, store) = (&events, &store);
    consume(state, "seat-reserver", event, |deliveries| reserve(events, store, deliveries)).await
}

/// The reserver's work on one batch of booking.requested, against the
/// read model and the store of record: the answers to publish.
pub async fn reserve(
    events: &dyn SeatReadModel,
    store: &dyn BookingRepo,
    deliveries: Vec<Delivery>,
) -> Result<Vec<Answer>, ApiError> {
    let mut answers = Vec::new();
    for wave in waves(deliveries) {
        let event_ids = wave
            .iter()
            .map(|delivery| EventId::parse(&delivery.message.data.event_id))
            .collect::<Result<Vec<_>, _>>()?;
        let bookings: Vec<String> = wave.iter().map(|d| d.message.data.booking_id.to_string()).collect();
        let claims: Vec<SeatClaim> = wave
            .iter()
            .zip(&event_ids)
            .zip(&bookings)
            .map(|((delivery, event), booking)| SeatClaim { event, booking, labels: &delivery.message.data.seats })
            .collect();
        let taken = events.hold_seats(&claims).await?;
        let taken = take_over_from_closed_holders(events, store, &claims, taken).await?;
        // Read after the wave's holds: a cancel or expiry that committed
        // before this point has either been projected already (so the
        // hold would linger) or will be after it (and release it). The
        // next wave may want these seats, so this wave settles first.
        let held: Vec<uuid::Uuid> = wave
            .iter()
            .zip(&taken)
            .filter(|(_, taken)| taken.is_empty())
            .map(|(d, _)| d.message.data.booking_id)
            .collect();
        let statuses = store.effective_statuses(&held, chrono::Utc::now()).await?;
        let taken = taken.into_iter().map(|seats| seats.into_iter().map(|seat| seat.label).collect());
        let holds = wave.into_iter().zip(event_ids).zip(taken).map(|((d, e), t)| (d, e, t));
        let settled = concurrently(holds.collect(), |(delivery, event_id, taken)| {
            let status = statuses.get(&delivery.message.data.booking_id).copied();
            settle_hold(events, delivery, event_id, taken, status)
        })
        .await?;
        answers.extend(settled.into_iter().flatten());
    }
    Ok(answers)
}

/// PostgreSQL is the judge: a seat that the read model still gives to a
/// booking PostgreSQL has closed (cancelled, expired, failed, or never
/// written) is free, its release merely still on its way through another
/// topic and consumer. Such holds are released and their claims tried once
/// more, with one batched status read for the whole wave; a claim that meets
/// an open or paid holder keeps its refusal.
async fn take_over_from_closed_holders(
    events: &dyn SeatReadModel,
    store: &dyn BookingRepo,
    claims: &[SeatClaim<'_>],
    mut taken: Vec<Vec<TakenSeat>>,
) -> Result<Vec<Vec<TakenSeat>>, ApiError> {
    if taken.iter().all(Vec::is_empty) {
        return Ok(taken);
    }
    let holder_id = |seat: &TakenSeat| seat.holder.as_deref().and_then(|h| uuid::Uuid::parse_str(h).ok());
    let holders: Vec<uuid::Uuid> = taken.iter().flatten().filter_map(holder_id).collect();
    let statuses = store.effective_statuses(&holders, chrono::Utc::now()).await?;
    // A holder that is not a booking id cannot be judged by PostgreSQL, so
    // its seat stays a refusal (the read model never writes one).
    let holds_it = |seat: &TakenSeat| match holder_id(seat) {
        Some(id) => statuses.get(&id).is_some_and(|status| status.is_active()),
        None => seat.holder.is_some(),
    };
    let mut retry = Vec::new();
    for (index, (claim, seats)) in claims.iter().zip(&taken).enumerate() {
        if seats.is_empty() || seats.iter().any(holds_it) {
            continue;
        }
        let mut by_holder: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for seat in seats {
            if let Some(holder) = &seat.holder {
                by_holder.entry(holder).or_default().push(seat.label.clone());
            }
        }
        for (holder, labels) in by_holder {
            events.release_seats(claim.event, holder, &labels).await?;
            tracing::info!(booking.id = claim.booking, holder, seats = ?labels, "seats taken over from a booking postgres has closed");
        }
        retry.push(index);
    }
    if retry.is_empty() {
        return Ok(taken);
    }
    let again: Vec<SeatClaim> = retry
        .iter()
        .map(|&i| SeatClaim { event: claims[i].event, booking: claims[i].booking, labels: claims[i].labels })
        .collect();
    for (index, seats) in retry.into_iter().zip(events.hold_seats(&again).await?) {
        taken[index] = seats;
    }
    Ok(taken)
}

/// The reserver's answer for one booking, given the seats someone else had
/// (`taken`) and, when its hold succeeded, the booking's status read after
/// it. A booking that was paid meanwhile gets its seats booked; one that
/// closed (or never committed) gets its hold released and no answer.
async fn settle_hold(
    events: &dyn SeatReadModel,
    delivery: Delivery,
    event_id: EventId,
    taken: Vec<String>,
    status: Option<BookingStatus>,
) -> Result<Option<Answer>, ApiError> {
    let data = delivery.message.data;
    let booking = data.booking_id.to_string();
    let (topic, reason) = match reservation_verdict(taken.is_empty(), status) {
        ReservationVerdict::Reserved => (kafka::SEAT_RESERVED, None),
        ReservationVerdict::Book => {
            events.book_seats(&event_id, &booking, &data.seats).await?;
            (kafka::SEAT_RESERVED, None)
        }
        ReservationVerdict::Release => {
            events.release_seats(&event_id, &booking, &data.seats).await?;
            return Ok(None);
        }
        ReservationVerdict::Failed => {
            (kafka::SEAT_RESERVATION_FAILED, Some(format!("seats already taken: {}", taken.join(", "))))
        }
    };
    let reply = Envelope::new(topic, BookingMessage { reason, user_id: None, expires_at: None, ..data });
    Ok(Some(Answer { topic, key: reply.data.event_id.clone(), payload: reply.to_bytes()? }))
}

/// seat.reserved / seat.reservation_failed → the booking becomes RESERVED
/// or FAILED. A failure frees the Redis hold and refunds a payment that
/// raced ahead of it.
///
/// The batch's seat.reserved messages are applied in one statement. Order
/// between the two kinds does not matter: FAILED is final, and RESERVED only
/// replaces PENDING, so either order ends in the same state.
pub async fn apply_seat_outcome(state: &State, event: KafkaEvent) -> Result<BatchReport, ApiError> {
    let bookings = state.bookings().await?;
    consume(state, "booking-status", event, |deliveries| async {
        let (reserved, others): (Vec<Delivery>, Vec<Delivery>) =
            deliveries.into_iter().partition(|d| d.topic == kafka::SEAT_RESERVED);
        let ids: Vec<uuid::Uuid> = reserved.iter().map(|d| d.message.data.booking_id).collect();
        bookings.repo.mark_reserved(&ids).await?;
        let bookings = &bookings;
        // Boxed: the whole chain (PG, Redis, refund, relay) makes a future
        // type too deep for the compiler's layout limit.
        apply_in_waves(others, |delivery| async move {
            Box::pin(apply_reservation_failure(state, bookings, delivery)).await.map(|()| None)
        })
        .await
    })
    .await
}

async fn apply_reservation_failure(state: &State, bookings: &Bookings<'_>, delivery: Delivery) -> Result<(), ApiError> {
    if delivery.topic != kafka::SEAT_RESERVATION_FAILED {
        tracing::warn!(topic = %delivery.topic, "booking-status ignores this topic");
        return Ok(());
    }
    let data = delivery.message.data;
    let reason = data.reason.as_deref().unwrap_or("seat reservation failed");
    let outcome = bookings.repo.mark_failed(data.booking_id, reason).await?;
    if let Some(booking) = &outcome.booking {
        bookings.release_holds(booking).await;
        tracing::warn!(booking.id = %booking.id, reason, "booking failed");
    }
    bookings.relay(&outcome.outbox).await;
    if let Some(owed) = outcome.refund {
        tracing::warn!(booking.id = %data.booking_id, amount = owed.refund.amount.0, "paid booking failed; refunding");
        // Recorded as owed in the same commit: a provider failure here is
        // retried by the sweeper, not by redelivering the batch.
        let _ = bookings.refund(state.payments.as_ref(), &owed).await;
    }
    Ok(())
}

/// booking.confirmed / booking.cancelled / booking.expired → seats booked
/// or available again in the Mongo read model.
pub async fn project_seats(state: &State, event: KafkaEvent) -> Result<BatchReport, ApiError> {
    let events = state.events();
    let events = &events;
    consume(state, "seat-projector", event, |deliveries| {
        apply_in_waves(deliveries, move |delivery| async move { project_one(events, delivery).await.map(|()| None) })
    })
    .await
}

async fn project_one(events: &dyn SeatReadModel, delivery: Delivery) -> Result<(), ApiError> {
    let data = delivery.message.data;
    let event_id = EventId::parse(&data.event_id)?;
    let booking = data.booking_id.to_string();
    match delivery.topic.as_str() {
        kafka::BOOKING_CONFIRMED => {
            events.book_seats(&event_id, &booking, &data.seats).await?;
        }
        kafka::BOOKING_CANCELLED | kafka::BOOKING_EXPIRED => {
            events.release_seats(&event_id, &booking, &data.seats).await?;
        }
        other => tracing::warn!(topic = other, "seat-projector ignores this topic"),
    }
    Ok(())
}

/// booking.confirmed / cancelled / expired, seat.reservation_failed and
/// waitlist.offered → one e-mail to the booking's owner per booking and kind (see notifier.rs
/// for how redeliveries and concurrent batches send it once).
pub async fn notify(state: &State, event: KafkaEvent) -> Result<BatchReport, ApiError> {
    let notifier = state.notifier().await?;
    let notifier = &notifier;
    consume(state, "notifier", event, |deliveries| {
        apply_in_waves(deliveries, move |delivery| async move {
            let Some(kind) = NoticeKind::of_topic(&delivery.topic) else {
                tracing::warn!(topic = %delivery.topic, "notifier ignores this topic");
                return Ok(None);
            };
            notifier.notify(delivery.message.data.booking_id, kind).await.map(|_| None)
        })
    })
    .await
}

/// booking.cancelled / expired and seat.reservation_failed → the seats that
/// came back are offered to the event's waiting list (see waitlist.rs; an
/// offer is a PENDING booking with its own booking.requested and
/// waitlist.offered, so the reserver, the projector and the notifier take
/// it from there).
pub async fn offer_returned_seats(state: &State, event: KafkaEvent) -> Result<BatchReport, ApiError> {
    let waitlist = state.waitlist().await?;
    let waitlist = &waitlist;
    consume(state, "waitlist-offerer", event, |deliveries| {
        apply_in_waves(deliveries, move |delivery| async move {
            let data = &delivery.message.data;
            let event = EventId::parse(&data.event_id)?;
            waitlist.seats_returned(&event, data.booking_id, &data.seats, chrono::Utc::now()).await.map(|_| None)
        })
    })
    .await
}

/// The booking topics → the per-event, per-minute sales counters behind the
/// organisers' dashboard. Counted in the transaction that records each
/// message as processed (see pg_sales.rs), so neither a redelivery nor two
/// instances handed the same batch count a booking twice.
pub async fn count_sales(state: &State, event: KafkaEvent) -> Result<BatchReport, ApiError> {
    let sales = state.sales();
    consume(state, pg_sales::CONSUMER, event, |deliveries| async move {
        let records: Vec<(uuid::Uuid, SaleRecord)> = deliveries
            .into_iter()
            .filter_map(|delivery| {
                let kind = SaleMove::of_topic(&delivery.topic)?;
                let Envelope { id, occurred_at, data, .. } = delivery.message;
                let record = SaleRecord {
                    event_id: data.event_id,
                    kind,
                    at: occurred_at,
                    seats: data.seats.len() as u32,
                    total_cents: data.total_cents.unwrap_or(0),
                    refund_cents: data.refund_cents.unwrap_or(0),
                };
                Some((id, record))
            })
            .collect();
        sales.count(&records).await?;
        Ok(Vec::new())
    })
    .await
}

/// The scheduled sweep: expire overdue bookings, drive owed refunds, then
/// publish again the outbox rows no consumer has applied in time, and
/// forget Idempotency-Keys past their replay window.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepReport {
    pub expired: usize,
    pub refunded: usize,
    pub relayed: usize,
    pub forgotten_keys: usize,
}

/// How long before its deadline a sweep stops starting new batches, so the
/// last one it started can finish.
const SWEEP_MARGIN: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs every step until it is drained or `budget` is spent, so a backlog
/// after an outage clears in one run rather than one batch a minute.
pub async fn sweep(state: &State, budget: std::time::Duration) -> Result<SweepReport, ApiError> {
    let bookings = state.bookings().await?;
    let deadline = tokio::time::Instant::now() + budget.saturating_sub(SWEEP_MARGIN);
    let batch = state.config.sweep_batch as usize;
    Ok(SweepReport {
        expired: drain(deadline, batch, || bookings.expire_due()).await?,
        refunded: drain(deadline, batch, || bookings.refund_due(state.payments.as_ref())).await?,
        relayed: drain(deadline, batch, || bookings.relay_pending()).await?,
        forgotten_keys: drain(deadline, batch, || async {
            let repo = state.booking_repo();
            Ok(repo.forget_keys(state.config.idempotency_ttl, state.config.sweep_batch).await? as usize)
        })
        .await?,
    })
}

/// Repeats `step` (which handles up to `batch` items and says how many)
/// while it finds full batches and time is left; returns the total.
async fn drain<F, Fut>(deadline: tokio::time::Instant, batch: usize, mut step: F) -> Result<usize, ApiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<usize, ApiError>>,
{
    let mut total = 0;
    loop {
        let done = step().await?;
        total += done;
        if done < batch || tokio::time::Instant::now() >= deadline {
            return Ok(total);
        }
    }
}

/// A record as read from the broker, before it is wrapped for Lambda.
#[derive(Debug, Clone)]
pub struct RawRecord {
    pub topic: String,
    pub partition: i64,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
}

/// Builds the MSK event for `records`, as the event source mapping delivers
/// them (grouped by topic-partition, base64 key and value). Used by the
/// local emulator and by tests.
pub fn kafka_event(records: Vec<RawRecord>) -> KafkaEvent {
    let mut event = KafkaEvent::default();
    event.event_source = Some("aws:kafka".into());
    for RawRecord { topic, partition, offset, key, value } in records {
        let mut record = KafkaRecord::default();
        record.topic = Some(topic.clone());
        record.partition = partition;
        record.offset = offset;
        record.timestamp = aws_lambda_events::encodings::MillisecondTimestamp(chrono::Utc::now());
        record.timestamp_type = Some("CREATE_TIME".into());
        record.key = key.map(|k| STANDARD.encode(k));
        record.value = Some(STANDARD.encode(value));
        event.records.entry(format!("{topic}-{partition}")).or_default().push(record);
    }
    event
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    fn delivery(booking: Uuid, seats: &[&str]) -> Delivery {
        let data = BookingMessage {
            booking_id: booking,
            event_id: "concert".into(),
            seats: seats.iter().map(|s| s.to_string()).collect(),
            ..BookingMessage::default()
        };
        Delivery { topic: kafka::BOOKING_REQUESTED.into(), message: Envelope::new(kafka::BOOKING_REQUESTED, data) }
    }

    fn bookings_by_wave(waves: &[Vec<Delivery>]) -> Vec<Vec<Uuid>> {
        waves.iter().map(|wave| wave.iter().map(|d| d.message.data.booking_id).collect()).collect()
    }

    #[test]
    fn records_sharing_a_seat_or_booking_keep_their_order_and_others_run_together() {
        let (a, b, c, d) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let batch = vec![
            delivery(a, &["A1", "A2"]),
            delivery(b, &["A2"]),       // wants A2 after a
            delivery(c, &["B1"]),       // unrelated: with a
            delivery(a, &["A1", "A2"]), // a again (a redelivery): after b, which came before it
            delivery(d, &["B2"]),       // unrelated: with a
        ];
        assert_eq!(bookings_by_wave(&waves(batch)), vec![vec![a, c, d], vec![b], vec![a]]);
    }

    #[test]
    fn disjoint_records_form_one_wave_and_an_empty_batch_none() {
        let batch: Vec<Delivery> = (0..20).map(|i| delivery(Uuid::now_v7(), &[&format!("A{i}")])).collect();
        assert_eq!(waves(batch).len(), 1);
        assert!(waves(Vec::new()).is_empty());
    }

    #[test]
    fn the_same_label_in_another_event_does_not_conflict() {
        let mut other = delivery(Uuid::now_v7(), &["A1"]);
        other.message.data.event_id = "festival".into();
        let waves = waves(vec![delivery(Uuid::now_v7(), &["A1"]), other]);
        assert_eq!(waves.len(), 1);
    }

    /// The reserver's decisions against the in-memory read model and store.
    mod reserver {
        use chrono::{Duration, Utc};
        use uuid::Uuid;

        use super::super::reserve;
        use crate::{
            bookings::suite::sample_event,
            domain::{
                booking::{select_seats, Booking},
                event::{Event, Layout},
            },
            kafka::{self, Envelope},
            messages::BookingMessage,
            payments::Charge,
            repo::{
                booking_ports::{BookingRepo, CreateOutcome, PaymentRecords, PaymentStart},
                memory::{MemoryBookings, MemorySeatModel, ModelSeat},
            },
        };

        struct World {
            event: Event,
            model: MemorySeatModel,
            store: MemoryBookings,
        }

        fn world() -> World {
            let (event, model) = (sample_event(), MemorySeatModel::default());
            model.put(&event);
            World { event, model, store: MemoryBookings::default() }
        }

        impl World {
            /// An open booking of `labels`, recorded as POST /bookings records it.
            async fn book(&self, labels: &[&str]) -> Booking {
                let layout = Layout { seats: self.event.seats(), event: self.event.clone() };
                let ids: Vec<String> = labels.iter().map(|l| self.event.id.seat_id(l)).collect();
                let selection = select_seats(&layout, &ids).unwrap();
                let (id, expires) = (Uuid::now_v7(), Utc::now() + Duration::minutes(10));
                match self.store.create(id, Uuid::new_v4(), &selection, "USD", expires).await.unwrap() {
                    CreateOutcome::Created { booking, .. } => booking,
                    CreateOutcome::Refused(why) => panic!("{why:?}"),
                }
            }

            async fn pay(&self, booking: &Booking) {
                let PaymentStart::Started { payment, .. } =
                    self.store.begin_payment(booking.user_id, booking.id, "4242").await.unwrap()
                else {
                    panic!("not payable")
                };
                let charge = Charge::Approved { reference: "ch_1".into() };
                self.store.finish_payment(booking, payment, charge).await.unwrap();
            }

            fn request(&self, booking: Uuid, labels: &[&str]) -> super::Delivery {
                let data = BookingMessage {
                    booking_id: booking,
                    event_id: self.event.id.to_string(),
                    seats: labels.iter().map(|s| s.to_string()).collect(),
                    ..BookingMessage::default()
                };
                super::Delivery {
                    topic: kafka::BOOKING_REQUESTED.into(),
                    message: Envelope::new(kafka::BOOKING_REQUESTED, data),
                }
            }

            /// Runs the reserver on `batch`: (topic, booking, reason) of each answer.
            async fn reserve(&self, batch: Vec<super::Delivery>) -> Vec<(String, Uuid, Option<String>)> {
                let answers = reserve(&self.model, &self.store, batch).await.unwrap();
                let mut answered: Vec<(String, Uuid, Option<String>)> = answers
                    .iter()
                    .map(|answer| {
                        let reply: Envelope<BookingMessage> = serde_json::from_slice(&answer.payload).unwrap();
                        (answer.topic.to_owned(), reply.data.booking_id, reply.data.reason)
                    })
                    .collect();
                answered.sort();
                answered
            }

            fn seat(&self, label: &str) -> ModelSeat {
                self.model.seat(&self.event.id, label).expect("a seat of the event")
            }
        }

        fn reserved(booking: Uuid) -> (String, Uuid, Option<String>) {
            (kafka::SEAT_RESERVED.to_owned(), booking, None)
        }

        #[tokio::test]
        async fn free_seats_are_held_for_an_open_booking_and_a_redelivery_gets_the_same_answer() {
            let w = world();
            let booking = w.book(&["A1", "A2"]).await;
            let request = || w.request(booking.id, &["A1", "A2"]);
            assert_eq!(w.reserve(vec![request()]).await, vec![reserved(booking.id)]);
            assert_eq!(w.seat("A2"), ModelSeat::Held(booking.id.to_string()));
            assert_eq!(w.reserve(vec![request()]).await, vec![reserved(booking.id)]);
            assert_eq!(w.seat("A1"), ModelSeat::Held(booking.id.to_string()));
        }

        #[tokio::test]
        async fn a_seat_an_open_booking_holds_fails_the_whole_claim() {
            let w = world();
            let holder = w.book(&["A1"]).await;
            w.reserve(vec![w.request(holder.id, &["A1"])]).await;
            let late = Uuid::now_v7();
            let answers = w.reserve(vec![w.request(late, &["A2", "A1"])]).await;
            assert_eq!(answers.len(), 1);
            assert_eq!((answers[0].0.as_str(), answers[0].1), (kafka::SEAT_RESERVATION_FAILED, late));
            assert_eq!(answers[0].2.as_deref(), Some("seats already taken: A1"));
            assert_eq!(w.seat("A2"), ModelSeat::Available, "all or none: A2 is not kept");
            assert_eq!(w.seat("A1"), ModelSeat::Held(holder.id.to_string()));
        }

        #[tokio::test]
        async fn two_claims_on_one_seat_in_one_batch_go_in_delivery_order() {
            let w = world();
            let first = w.book(&["B1"]).await;
            let second = Uuid::now_v7();
            let answers = w.reserve(vec![w.request(first.id, &["B1"]), w.request(second, &["B1"])]).await;
            let failed = (kafka::SEAT_RESERVATION_FAILED.to_owned(), second, Some("seats already taken: B1".into()));
            let mut expected = vec![reserved(first.id), failed];
            expected.sort();
            assert_eq!(answers, expected);
        }

        #[tokio::test]
        async fn a_hold_of_a_booking_postgres_has_closed_gives_way() {
            let w = world();
            let gone = w.book(&["C1"]).await;
            w.store.cancel(gone.user_id, gone.id, w.event.date).await.unwrap();
            // Its release is still on its way through booking.cancelled.
            w.model.set(&w.event.id, "C1", ModelSeat::Held(gone.id.to_string()));
            let next = w.book(&["C1"]).await;
            assert_eq!(w.reserve(vec![w.request(next.id, &["C1"])]).await, vec![reserved(next.id)]);
            assert_eq!(w.seat("C1"), ModelSeat::Held(next.id.to_string()));
        }

        #[tokio::test]
        async fn a_hold_of_a_paid_booking_never_gives_way() {
            let w = world();
            let paid = w.book(&["C2"]).await;
            w.pay(&paid).await;
            w.model.set(&w.event.id, "C2", ModelSeat::Booked(paid.id.to_string()));
            let stale = Uuid::now_v7();
            let answers = w.reserve(vec![w.request(stale, &["C2"])]).await;
            assert_eq!(answers[0].0, kafka::SEAT_RESERVATION_FAILED);
            assert_eq!(w.seat("C2"), ModelSeat::Booked(paid.id.to_string()));
        }

        #[tokio::test]
        async fn a_booking_paid_before_its_hold_gets_its_seats_booked() {
            let w = world();
            let booking = w.book(&["D1", "D2"]).await;
            w.pay(&booking).await;
            assert_eq!(w.reserve(vec![w.request(booking.id, &["D1", "D2"])]).await, vec![reserved(booking.id)]);
            assert_eq!(w.seat("D1"), ModelSeat::Booked(booking.id.to_string()));
        }

        #[tokio::test]
        async fn a_closed_or_unknown_booking_is_released_and_not_answered() {
            let w = world();
            let cancelled = w.book(&["E1"]).await;
            w.store.cancel(cancelled.user_id, cancelled.id, w.event.date).await.unwrap();
            let never_written = Uuid::now_v7();
            let batch = vec![w.request(cancelled.id, &["E1"]), w.request(never_written, &["E2"])];
            assert_eq!(w.reserve(batch).await, vec![]);
            assert_eq!((w.seat("E1"), w.seat("E2")), (ModelSeat::Available, ModelSeat::Available));
        }
    }
}
