//! What Lambda's event source mappings and EventBridge schedules do, for the
//! local gateway: consume each consumer function's topics with its own
//! consumer group, hand it real MSK `KafkaEvent` batches, and commit offsets
//! only after the function succeeds (at-least-once). A batch that keeps
//! failing goes to the dead-letter topics, like an on-failure destination.

use std::{collections::HashMap, sync::Arc, time::Duration};

use rdkafka::{
    consumer::{CommitMode, Consumer, StreamConsumer},
    Message, Offset, TopicPartitionList,
};
use shared::State;

use crate::{dispatch, routes::FunctionSpec};

/// Attempts per batch before it is dead-lettered.
const MAX_ATTEMPTS: u32 = 5;

/// Starts one consumer loop per Kafka-triggered function and one timer per
/// scheduled function. Runs until the process ends.
pub async fn start(specs: &[FunctionSpec], state: Arc<State>, schedule_every: Duration) -> anyhow::Result<()> {
    // A consumer appears twice in the template (MSK and self-managed Kafka
    // variants under opposite conditions); locally it runs once.
    let mut started = std::collections::HashSet::new();
    for spec in specs.iter().filter(|spec| started.insert(spec.binary.clone())) {
        if !spec.topics.is_empty() {
            anyhow::ensure!(
                dispatch::KAFKA_FUNCTIONS.contains(&spec.binary.as_str()),
                "{} consumes Kafka but is not linked into the gateway",
                spec.binary
            );
            let consumer = consumer_for(spec, &state).await?;
            tokio::spawn(run_source(spec.clone(), state.clone(), consumer));
        }
        if spec.schedule.is_some() {
            let (function, state) = (spec.binary.clone(), state.clone());
            tokio::spawn(async move {
                let mut ticks = tokio::time::interval(schedule_every);
                loop {
                    ticks.tick().await;
                    match dispatch::invoke_scheduled(&function, &state).await {
                        Some(Ok(report)) => tracing::debug!(function, %report, "scheduled run"),
                        Some(Err(err)) => tracing::warn!(function, error = %err, "scheduled run failed"),
                        None => tracing::error!(function, "scheduled function is not linked"),
                    }
                }
            });
        }
    }
    Ok(())
}

/// How long the broker may hold a fetch that finds nothing new. Our Tansu
/// build answers as soon as it has records (local/tansu/); with nothing to
/// send it waits this long, so a message that lands on an idle topic waits
/// up to this much. Each fetch costs the broker a query per subscribed
/// partition: shorter waits cost it CPU with no traffic at all.
const DEFAULT_FETCH_WAIT_MS: u64 = 10;

async fn consumer_for(spec: &FunctionSpec, state: &State) -> anyhow::Result<StreamConsumer> {
    let prefix = &state.config.topic_prefix;
    let fetch_wait = std::env::var("EMULATOR_FETCH_WAIT_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(DEFAULT_FETCH_WAIT_MS);
    let consumer: StreamConsumer = shared::kafka::client_config(&state.config)
        .await?
        .set("group.id", format!("{prefix}{}", spec.binary))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", fetch_wait.to_string())
        .set("session.timeout.ms", "6000")
        // Notice within seconds that a lost topic is back (after a repair).
        .set("topic.metadata.refresh.interval.ms", "5000")
        .create()?;
    let topics: Vec<String> = spec.topics.iter().map(|t| format!("{prefix}{t}")).collect();
    consumer.subscribe(&topics.iter().map(String::as_str).collect::<Vec<_>>())?;
    Ok(consumer)
}

use shared::consumers::RawRecord as Record;

async fn run_source(spec: FunctionSpec, state: Arc<State>, consumer: StreamConsumer) {
    loop {
        let topic = format!("{}{}", state.config.topic_prefix, spec.topics[0]);
        let batch = next_batch(&consumer, &state, &topic, spec.batch_size, spec.batching_window).await;
        if batch.is_empty() {
            continue;
        }
        deliver(&spec, &state, &batch).await;
        let mut offsets = TopicPartitionList::new();
        let mut next: HashMap<(String, i32), i64> = HashMap::new();
        for record in &batch {
            let entry = next.entry((record.topic.clone(), record.partition as i32)).or_insert(0);
            *entry = (*entry).max(record.offset + 1);
        }
        for ((topic, partition), offset) in next {
            let _ = offsets.add_partition_offset(&topic, partition, Offset::Offset(offset));
        }
        if let Err(err) = consumer.commit(&offsets, CommitMode::Async) {
            tracing::warn!(function = %spec.binary, error = %err, "offset commit failed; the batch may be redelivered");
        }
    }
}

/// Waits for one record, then gathers more until the batch is full or the
/// batching window closes (a zero window takes only what already arrived).
/// `topic` is one the consumer reads, checked when the broker seems to have
/// lost it.
async fn next_batch(
    consumer: &StreamConsumer,
    state: &State,
    topic: &str,
    size: usize,
    window: Duration,
) -> Vec<Record> {
    let mut batch = Vec::new();
    let deadline = tokio::time::Instant::now() + window;
    loop {
        let received = if batch.is_empty() {
            Ok(consumer.recv().await)
        } else {
            tokio::time::timeout_at(deadline, consumer.recv()).await
        };
        match received {
            Ok(Ok(message)) => batch.push(Record {
                topic: message.topic().to_owned(),
                partition: i64::from(message.partition()),
                offset: message.offset(),
                key: message.key().map(<[u8]>::to_vec),
                value: message.payload().map(<[u8]>::to_vec).unwrap_or_default(),
            }),
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "kafka receive failed");
                if err.rdkafka_error_code().is_some_and(shared::kafka::means_topic_missing) {
                    // A broker that restarted empty: without its topics every
                    // booking would wait as PENDING and expire.
                    state.repair_topics(topic).await;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
                if batch.is_empty() {
                    continue;
                }
                break;
            }
            Err(_) => break,
        }
        if batch.len() >= size {
            break;
        }
    }
    batch
}

/// Invokes the function until it succeeds or the attempts run out; then the
/// records go to their dead-letter topics so the partition moves on.
async fn deliver(spec: &FunctionSpec, state: &State, batch: &[Record]) {
    for attempt in 1..=MAX_ATTEMPTS {
        let event = shared::consumers::kafka_event(batch.to_vec());
        let started = std::time::Instant::now();
        match dispatch::invoke_kafka(&spec.binary, state, event).await {
            Some(Ok(report)) => {
                let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
                tracing::debug!(function = %spec.binary, records = batch.len(), elapsed_ms, %report, "batch processed");
                return;
            }
            Some(Err(err)) => {
                tracing::warn!(function = %spec.binary, attempt, error = %err, "batch failed; retrying");
                tokio::time::sleep(Duration::from_millis(100 * 2u64.pow(attempt))).await;
            }
            None => break,
        }
    }
    tracing::error!(function = %spec.binary, records = batch.len(), "batch failed every attempt; dead-lettering");
    let reason = format!("{} failed this batch {MAX_ATTEMPTS} times", spec.binary);
    let event = shared::consumers::kafka_event(batch.to_vec());
    for record in event.records.values().flatten() {
        if let Err(err) = shared::consumers::dead_letter(state, record, &reason).await {
            tracing::error!(error = %err, "dead-letter publish failed");
        }
    }
}
