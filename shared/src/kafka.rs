//! Kafka: topic names, the message envelope and the producer settings.

use aws_credential_types::provider::SharedCredentialsProvider;
use rdkafka::{
    client::{ClientContext, OAuthToken},
    config::ClientConfig,
    producer::{FutureProducer, Producer as _},
};

use crate::config::{Config, KafkaAuth};

pub const BOOKING_REQUESTED: &str = "booking.requested";
pub const SEAT_RESERVED: &str = "seat.reserved";
pub const SEAT_RESERVATION_FAILED: &str = "seat.reservation_failed";
pub const BOOKING_CONFIRMED: &str = "booking.confirmed";
pub const BOOKING_CANCELLED: &str = "booking.cancelled";
pub const BOOKING_EXPIRED: &str = "booking.expired";
pub const EVENT_CREATED: &str = "event.created";
/// A waiting fan was offered seats that came back (the offer is a PENDING
/// booking, announced by its own booking.requested as well).
pub const WAITLIST_OFFERED: &str = "waitlist.offered";

/// Every topic the system produces to, created at setup (`KAFKA_PARTITIONS`).
pub const TOPICS: [&str; 8] = [
    BOOKING_REQUESTED,
    SEAT_RESERVED,
    SEAT_RESERVATION_FAILED,
    BOOKING_CONFIRMED,
    BOOKING_CANCELLED,
    BOOKING_EXPIRED,
    EVENT_CREATED,
    WAITLIST_OFFERED,
];

/// The dead-letter topic of a consumed topic.
/// Every topic this deployment uses, with its prefix: each of `TOPICS` and
/// its dead-letter topic.
pub fn topic_names(config: &Config) -> Vec<String> {
    TOPICS
        .iter()
        .flat_map(|topic| {
            let name = format!("{}{topic}", config.topic_prefix);
            [dead_letter_topic(&name), name]
        })
        .collect()
}

pub fn dead_letter_topic(topic: &str) -> String {
    format!("{topic}.dlq")
}

/// The IAM actions our own Kafka clients need under MSK IAM access control
/// (`KAFKA_AUTH=iam`), named where the clients are made so the list in
/// `aws_access` stays next to the code that needs it.
pub mod iam {
    /// Every client, on the cluster.
    pub const CONNECT: &str = "kafka-cluster:Connect";
    /// The idempotent producer, on the cluster.
    pub const WRITE_DATA_IDEMPOTENTLY: &str = "kafka-cluster:WriteDataIdempotently";
    /// Producing, on each topic written.
    pub const WRITE_DATA: &str = "kafka-cluster:WriteData";
    /// Metadata of a topic (producers, the health check), on the topic.
    pub const DESCRIBE_TOPIC: &str = "kafka-cluster:DescribeTopic";
    /// The migrator's topic creation, on each topic.
    pub const CREATE_TOPIC: &str = "kafka-cluster:CreateTopic";
}

/// Brokers resolved from the MSK cluster, once per process: only functions
/// that make a Kafka client pay for (and need permission to make) the
/// GetBootstrapBrokers call, and they make it once per cold start.
static MSK_BROKERS: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();

/// The bootstrap servers: `KAFKA_BROKERS` as given, or the MSK cluster's
/// brokers for `KAFKA_AUTH`. A function deployed without either uses no
/// Kafka, and asking it for a client is a configuration error.
pub async fn bootstrap_servers(config: &Config) -> anyhow::Result<String> {
    if !config.kafka_brokers.is_empty() {
        return Ok(config.kafka_brokers.clone());
    }
    let Some(arn) = &config.msk_cluster_arn else {
        anyhow::bail!("this function has no Kafka settings (KAFKA_BROKERS or MSK_CLUSTER_ARN)");
    };
    let brokers = MSK_BROKERS
        .get_or_try_init(|| async {
            let brokers = crate::msk::resolve(arn, &config.kafka_auth).await?;
            tracing::info!(auth = ?config.kafka_auth, "kafka brokers resolved from the MSK cluster");
            anyhow::Ok(brokers)
        })
        .await?;
    Ok(brokers.clone())
}

/// Connection settings shared by producers, consumers and the admin client:
/// the brokers and how to authenticate to them.
pub async fn client_config(config: &Config) -> anyhow::Result<ClientConfig> {
    Ok(client_config_for(config, &bootstrap_servers(config).await?))
}

/// The same settings for brokers already known (tests and tools that read
/// `KAFKA_BROKERS` directly).
pub fn client_config_for(config: &Config, brokers: &str) -> ClientConfig {
    let mut client = ClientConfig::new();
    client.set("bootstrap.servers", brokers);
    match &config.kafka_auth {
        KafkaAuth::Plaintext => {}
        KafkaAuth::Tls => {
            client.set("security.protocol", "SSL");
        }
        KafkaAuth::Scram { username, password } => {
            client
                .set("security.protocol", "SASL_SSL")
                .set("sasl.mechanisms", "SCRAM-SHA-512")
                .set("sasl.username", username)
                .set("sasl.password", password.expose());
        }
        KafkaAuth::Iam { .. } => {
            client.set("security.protocol", "SASL_SSL").set("sasl.mechanisms", "OAUTHBEARER");
        }
    }
    client
}

/// The producer every function uses.
pub type Producer = FutureProducer<KafkaContext>;

/// An idempotent producer that waits for all in-sync replicas. linger.ms=1
/// because the 5 ms default would add 5 ms to every request that publishes.
pub async fn producer(config: &Config) -> anyhow::Result<Producer> {
    let context = KafkaContext::for_config(config).await;
    Ok(client_config(config)
        .await?
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "1")
        .set("message.timeout.ms", "10000")
        .set("socket.connection.setup.timeout.ms", "3000")
        .create_with_context(context)?)
}

/// The instance's producer, made on first use and made again once librdkafka
/// declares it fatally failed or a publish discards it (see `discard`). An
/// idempotent producer that loses track of its
/// sequence numbers (messages timed out during a broker outage) refuses every
/// later message for good; without a new one a warm Lambda would fail every
/// publish until AWS recycled it, and each booking would wait for the sweeper.
#[derive(Default)]
pub struct ProducerSlot {
    current: std::sync::RwLock<Option<Arc<Producer>>>,
    /// One cold start or rebuild at a time; readers of a healthy producer
    /// never wait for it.
    rebuilding: tokio::sync::Mutex<()>,
    /// When this instance last checked for missing topics.
    topics_checked: std::sync::Mutex<Option<std::time::Instant>>,
}

impl ProducerSlot {
    pub async fn get(&self, config: &Config) -> anyhow::Result<Arc<Producer>> {
        if let Some(producer) = self.healthy() {
            return Ok(producer);
        }
        let _turn = self.rebuilding.lock().await;
        if let Some(producer) = self.healthy() {
            return Ok(producer);
        }
        if let Some(failed) = self.current.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
            if let Some((code, reason)) = failed.client().fatal_error() {
                tracing::error!(?code, reason, "kafka producer failed for good; making a new one");
            }
        }
        let fresh = Arc::new(producer(config).await?);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(fresh.clone());
        Ok(fresh)
    }

    /// Drops `failed` if it is still the current producer, so the next
    /// caller gets a new one. For messages that time out: after a broker
    /// restart, an idempotent producer can keep timing out against a broker
    /// that came back without its producer state (seen with Tansu for 120 s
    /// and more, never reported as fatal), while a new producer sends at once.
    pub fn discard(&self, failed: &Arc<Producer>) {
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        if current.as_ref().is_some_and(|producer| Arc::ptr_eq(producer, failed)) {
            tracing::warn!("kafka producer timed out; the next publish makes a new one");
            *current = None;
        }
    }

    /// Recreates the deployment's topics (the migrator's idempotent step) if
    /// the broker answers without `topic`: a broker that restarted empty
    /// would otherwise leave every booking PENDING until it expired. In the
    /// background, so no request waits for it, and at most once per
    /// `TOPIC_REPAIR_EVERY`. On Lambda the task runs while the instance is
    /// awake; the sweeper's next relay asks again.
    pub fn repair_topics(&self, producer: Arc<Producer>, topic: &str, config: &Config) {
        // On AWS the migrator owns the topics (MSK keeps them) and request
        // functions' roles may not create topics; there a lost topic is an
        // alarm for an operator, not something to paper over.
        if !config.is_local() {
            return;
        }
        {
            let mut last = self.topics_checked.lock().unwrap_or_else(|e| e.into_inner());
            if last.is_some_and(|at| at.elapsed() < TOPIC_REPAIR_EVERY) {
                return;
            }
            *last = Some(std::time::Instant::now());
        }
        let (topic, config) = (topic.to_owned(), config.clone());
        tokio::spawn(async move {
            let lacks = tokio::task::spawn_blocking(move || broker_lacks(&producer, &topic)).await.unwrap_or(false);
            if !lacks {
                return;
            }
            match crate::setup::create_topics(&config).await {
                Ok(_) => tracing::warn!("the broker had lost our topics; recreated them"),
                Err(err) => tracing::warn!(error = %err, "could not recreate the broker's lost topics"),
            }
        });
    }

    fn healthy(&self) -> Option<Arc<Producer>> {
        let current = self.current.read().unwrap_or_else(|e| e.into_inner());
        current.as_ref().filter(|producer| producer.client().fatal_error().is_none()).cloned()
    }
}

/// Client context that signs SASL/OAUTHBEARER tokens with the function's IAM
/// credentials when `KAFKA_AUTH=iam`; otherwise it behaves like the default
/// context (librdkafka only asks for a token under OAUTHBEARER).
pub struct KafkaContext {
    iam: Option<IamTokens>,
}

struct IamTokens {
    region: aws_config::Region,
    credentials: SharedCredentialsProvider,
    /// librdkafka asks for tokens on its own thread; signing is async, so it
    /// runs on the function's runtime.
    runtime: tokio::runtime::Handle,
}

impl KafkaContext {
    /// Must be called inside the Tokio runtime (it keeps a handle to it).
    pub async fn for_config(config: &Config) -> KafkaContext {
        let iam = match &config.kafka_auth {
            KafkaAuth::Iam { region } => {
                let region = aws_config::Region::new(region.clone());
                let aws =
                    aws_config::defaults(aws_config::BehaviorVersion::latest()).region(region.clone()).load().await;
                aws.credentials_provider().map(|credentials| IamTokens {
                    region,
                    credentials,
                    runtime: tokio::runtime::Handle::current(),
                })
            }
            _ => None,
        };
        KafkaContext { iam }
    }

    #[cfg(test)]
    fn with_credentials(region: &str, credentials: SharedCredentialsProvider) -> KafkaContext {
        let region = aws_config::Region::new(region.to_owned());
        KafkaContext { iam: Some(IamTokens { region, credentials, runtime: tokio::runtime::Handle::current() }) }
    }
}

impl ClientContext for KafkaContext {
    const ENABLE_REFRESH_OAUTH_TOKEN: bool = true;

    fn generate_oauth_token(&self, _config: Option<&str>) -> Result<OAuthToken, Box<dyn std::error::Error>> {
        let iam = self.iam.as_ref().ok_or("OAUTHBEARER was requested but KAFKA_AUTH is not iam")?;
        let (region, credentials) = (iam.region.clone(), iam.credentials.clone());
        let runtime = iam.runtime.clone();
        // A plain thread, because `block_on` refuses to run on a runtime
        // thread and librdkafka may call from any thread.
        let signed = std::thread::spawn(move || {
            runtime.block_on(async {
                tokio::time::timeout(
                    Duration::from_secs(10),
                    aws_msk_iam_sasl_signer::generate_auth_token_from_credentials_provider(region, credentials),
                )
                .await
            })
        })
        .join()
        .map_err(|_| "the IAM token signer panicked")?;
        let (token, expires_at_ms) = signed??;
        Ok(OAuthToken { token, principal_name: String::new(), lifetime_ms: expires_at_ms })
    }
}

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rdkafka::{error::RDKafkaErrorCode, producer::FutureRecord};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ApiError;

/// Every message: an id consumers deduplicate on, the type, when it
/// happened, a schema version, and the payload.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Envelope<T> {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub kind: String,
    pub occurred_at: DateTime<Utc>,
    pub version: u32,
    pub data: T,
}

impl<T: Serialize> Envelope<T> {
    pub fn new(kind: &str, data: T) -> Self {
        Envelope { id: Uuid::now_v7(), kind: kind.to_owned(), occurred_at: Utc::now(), version: 1, data }
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>, ApiError> {
        serde_json::to_vec(self).map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("encoding message")))
    }
}

#[async_trait]
pub trait Publisher: Send + Sync {
    /// Publishes and waits for the broker's acknowledgement.
    async fn publish(&self, topic: &str, key: &str, payload: &[u8]) -> Result<(), ApiError>;
}

/// Publishes through the instance's producer, made at the first message: a
/// function that may publish (a booking read that could lazily expire a
/// hold, say) connects to the brokers only when it does.
pub struct KafkaPublisher<'a> {
    pub slot: &'a ProducerSlot,
    pub config: &'a Config,
}

impl KafkaPublisher<'_> {
    /// The instance's producer, made now if there is none yet.
    pub async fn producer(&self) -> Result<Arc<Producer>, ApiError> {
        self.slot.get(self.config).await.map_err(|e| ApiError::Internal(e.context("creating kafka producer")))
    }
}

#[async_trait]
impl Publisher for KafkaPublisher<'_> {
    async fn publish(&self, topic: &str, key: &str, payload: &[u8]) -> Result<(), ApiError> {
        let producer = self.producer().await?;
        let topic = format!("{}{topic}", self.config.topic_prefix);
        let record = FutureRecord::to(&topic).key(key).payload(payload);
        // Awaits the delivery report without blocking the runtime thread.
        let Err((err, _)) = producer.send(record, Duration::from_secs(5)).await else {
            return Ok(());
        };
        tracing::error!(topic, error = %err, "kafka publish failed");
        let code = err.rdkafka_error_code();
        if code == Some(RDKafkaErrorCode::MessageTimedOut) {
            self.slot.discard(&producer);
        }
        if code.is_some_and(means_topic_missing) {
            // The message itself waits in the outbox for the sweeper.
            self.slot.repair_topics(producer, &topic, self.config);
        }
        Err(ApiError::Unavailable("The message broker is temporarily unavailable".into()))
    }
}

/// Errors a client gets when a topic it uses may be gone from the broker (a
/// broker that restarted empty: librdkafka may say so, or may only time the
/// message out while it waits for the topic's metadata).
pub fn means_topic_missing(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic | RDKafkaErrorCode::MessageTimedOut
    )
}

/// At most one topic check per instance in this long, so an outage does not
/// turn every failing publish into metadata requests.
const TOPIC_REPAIR_EVERY: Duration = Duration::from_secs(10);

/// Whether the broker answers and says `topic` does not exist. A broker that
/// does not answer is down, not empty: nothing to repair.
fn broker_lacks(producer: &Producer, topic: &str) -> bool {
    match producer.client().fetch_metadata(Some(topic), Duration::from_secs(2)) {
        Ok(metadata) => metadata.topics().iter().all(|t| t.name() != topic || t.error().is_some()),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use aws_credential_types::Credentials;
    use base64::Engine;

    use super::*;

    /// The token is what MSK IAM auth expects: a presigned, base64url-encoded
    /// `kafka-cluster:Connect` request for the region's endpoint. Signed
    /// offline with fixed test credentials.
    #[tokio::test(flavor = "multi_thread")]
    async fn iam_context_signs_a_kafka_cluster_connect_token() {
        let credentials = SharedCredentialsProvider::new(Credentials::for_tests());
        let context = KafkaContext::with_credentials("eu-west-1", credentials);
        let token = tokio::task::spawn_blocking(move || context.generate_oauth_token(None).map_err(|e| e.to_string()))
            .await
            .unwrap()
            .unwrap();
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&token.token).unwrap();
        let url = String::from_utf8(url).unwrap();
        assert!(url.starts_with("https://kafka.eu-west-1.amazonaws.com/?Action=kafka-cluster%3AConnect"), "{url}");
        assert!(url.contains("X-Amz-Signature="), "{url}");
        assert!(token.lifetime_ms > chrono::Utc::now().timestamp_millis());
    }

    #[tokio::test]
    async fn other_modes_refuse_to_sign() {
        let context = KafkaContext { iam: None };
        assert!(context.generate_oauth_token(None).is_err());
    }

    /// librdkafka's own fault injection marks the producer fatally failed
    /// (no broker needed); the slot must hand out a new one, and keep
    /// handing out a healthy one without rebuilding it.
    #[tokio::test]
    async fn a_fatally_failed_producer_is_replaced() {
        let config = Config::from_map(&Default::default()).unwrap();
        let slot = ProducerSlot::default();
        let first = slot.get(&config).await.unwrap();
        assert!(Arc::ptr_eq(&first, &slot.get(&config).await.unwrap()), "a healthy producer is reused");

        let reason = std::ffi::CString::new("test: sequence numbers lost").unwrap();
        let injected = unsafe {
            rdkafka::bindings::rd_kafka_test_fatal_error(
                first.client().native_ptr(),
                rdkafka::types::RDKafkaRespErr::RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
                reason.as_ptr(),
            )
        };
        assert_eq!(injected, rdkafka::types::RDKafkaRespErr::RD_KAFKA_RESP_ERR_NO_ERROR);
        assert!(first.client().fatal_error().is_some());

        let second = slot.get(&config).await.unwrap();
        assert!(!Arc::ptr_eq(&first, &second), "the failed producer was handed out again");
        assert!(second.client().fatal_error().is_none());
        assert!(Arc::ptr_eq(&second, &slot.get(&config).await.unwrap()));

        slot.discard(&first);
        assert!(Arc::ptr_eq(&second, &slot.get(&config).await.unwrap()), "discarding an old producer changes nothing");
        slot.discard(&second);
        assert!(!Arc::ptr_eq(&second, &slot.get(&config).await.unwrap()), "a discarded producer is replaced");
    }

    #[test]
    fn client_settings_follow_the_auth_mode() {
        let mut config = Config::from_map(&Default::default()).unwrap();
        let protocol =
            |config: &Config| client_config_for(config, "b:9098").get("security.protocol").map(str::to_owned);
        assert_eq!(protocol(&config), None);
        config.kafka_auth = KafkaAuth::Iam { region: "eu-west-1".into() };
        assert_eq!(protocol(&config).as_deref(), Some("SASL_SSL"));
        assert_eq!(client_config_for(&config, "b:9098").get("sasl.mechanisms"), Some("OAUTHBEARER"));
        config.kafka_auth = KafkaAuth::Tls;
        assert_eq!(protocol(&config).as_deref(), Some("SSL"));
    }

    #[tokio::test]
    async fn a_function_without_kafka_settings_gets_a_clear_error_not_a_client() {
        let mut config = Config::from_map(&Default::default()).unwrap();
        config.kafka_brokers.clear();
        let err = client_config(&config).await.unwrap_err();
        assert!(err.to_string().contains("no Kafka settings"), "{err}");
    }
}
