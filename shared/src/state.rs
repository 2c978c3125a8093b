//! Everything a function needs, built once per Lambda instance (cold start)
//! and borrowed by every invocation. Nothing here connects eagerly: the
//! Postgres pool is lazy, the Mongo driver connects on first use, and Redis
//! and Kafka clients are made on first use and then reused.

use std::time::Duration;

use rdkafka::producer::FutureProducer;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use sqlx::{postgres::PgPoolOptions, PgPool};
use tokio::sync::OnceCell;

use crate::{
    auth::{JwtKeys, PasswordHasherService},
    bookings::Bookings,
    catalog::LayoutCache,
    config::Config,
    error::ApiError,
    kafka,
    kafka::KafkaPublisher,
    payments::{PaymentProvider, TestCardProvider},
    repo::{
        mongo_events::MongoEvents, pg_bookings::PgBookings, pg_users::PgUsers, redis_seats::RedisSeatBoard,
        redis_throttle::RedisLoginThrottle,
    },
};

/// How long a request waits for a store before answering 503.
const STORE_TIMEOUT: Duration = Duration::from_secs(3);

pub struct State {
    pub config: Config,
    pub jwt: JwtKeys,
    pub passwords: PasswordHasherService,
    /// The local test-card provider; a real PSP would sit behind the same trait.
    pub payments: Box<dyn PaymentProvider>,
    /// Event layouts (immutable once created), cached for the instance's life.
    pub layouts: LayoutCache,
    pg: PgPool,
    mongo: mongodb::Client,
    redis: OnceCell<ConnectionManager>,
    kafka: OnceCell<FutureProducer>,
}

impl State {
    pub async fn from_env() -> anyhow::Result<State> {
        State::new(Config::from_env()?).await
    }

    pub async fn new(mut config: Config) -> anyhow::Result<State> {
        if config.kafka_brokers.is_empty() {
            if let Some(arn) = config.msk_cluster_arn.clone() {
                let brokers = crate::msk::resolve(&arn, config.kafka_scram.is_some()).await?;
                tracing::info!(listener = ?brokers.listener, "kafka brokers resolved from the MSK cluster");
                config.kafka_brokers = brokers.servers;
            }
        }
        let pg_options: sqlx::postgres::PgConnectOptions = config.database_url.expose().parse()?;
        let pg = PgPoolOptions::new()
            .max_connections(config.pg_max_connections)
            .acquire_timeout(STORE_TIMEOUT)
            .connect_lazy_with(pg_options);
        let mut mongo_options = mongodb::options::ClientOptions::parse(config.mongo_url.expose()).await?;
        // The local Mongo-wire server takes ~15 new connections a second, and
        // DocumentDB bills per connection: keep the pool small.
        mongo_options.max_pool_size.get_or_insert(config.mongo_max_pool);
        mongo_options.server_selection_timeout.get_or_insert(STORE_TIMEOUT);
        mongo_options.connect_timeout.get_or_insert(STORE_TIMEOUT);
        // DocumentDB does not support retryable writes, and nx-27017 treats
        // their transaction numbers as transactions and rolls earlier writes
        // of the session back: a held seat silently became available again.
        mongo_options.retry_writes = Some(false);
        mongo_options.app_name.get_or_insert_with(|| "ticket-booking".to_owned());
        let mongo = mongodb::Client::with_options(mongo_options)?;
        Ok(State {
            jwt: JwtKeys::new(&config.jwt_secret, config.jwt_ttl),
            passwords: PasswordHasherService::new(config.password_cost)?,
            layouts: LayoutCache::default(),
            payments: Box::new(TestCardProvider),
            config,
            pg,
            mongo,
            redis: OnceCell::new(),
            kafka: OnceCell::new(),
        })
    }

    pub fn pg(&self) -> &PgPool {
        &self.pg
    }

    pub fn mongo(&self) -> mongodb::Database {
        self.mongo.database(&self.config.mongo_database)
    }

    pub async fn redis(&self) -> Result<ConnectionManager, ApiError> {
        self.redis
            .get_or_try_init(|| async {
                let client = redis::Client::open(self.config.redis_url.expose())?;
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(STORE_TIMEOUT)
                    .set_response_timeout(STORE_TIMEOUT)
                    .set_number_of_retries(1);
                ConnectionManager::new_with_config(client, config).await
            })
            .await
            .cloned()
            .map_err(ApiError::from)
    }

    pub async fn kafka(&self) -> Result<&FutureProducer, ApiError> {
        self.kafka
            .get_or_try_init(|| async { kafka::producer(&self.config) })
            .await
            .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("creating kafka producer")))
    }

    pub fn users(&self) -> PgUsers {
        PgUsers::new(self.pg.clone())
    }

    pub fn events(&self) -> MongoEvents {
        MongoEvents::new(&self.mongo(), &self.config.mongo_collection_prefix)
    }

    pub async fn seat_board(&self) -> Result<RedisSeatBoard, ApiError> {
        Ok(RedisSeatBoard::new(self.redis().await?))
    }

    pub async fn publisher(&self) -> Result<KafkaPublisher<'_>, ApiError> {
        Ok(KafkaPublisher { producer: self.kafka().await?, topic_prefix: &self.config.topic_prefix })
    }

    pub fn booking_store(&self) -> PgBookings {
        PgBookings::new(self.pg.clone())
    }

    /// The booking service wired to this instance's stores.
    pub async fn bookings(&self) -> Result<Bookings<'_>, ApiError> {
        Ok(Bookings {
            config: &self.config,
            store: self.booking_store(),
            holds: Box::new(self.seat_board().await?),
            publisher: Box::new(self.publisher().await?),
            catalog: Box::new(self.events()),
            layouts: &self.layouts,
        })
    }

    pub async fn login_throttle(&self) -> Result<RedisLoginThrottle, ApiError> {
        Ok(RedisLoginThrottle::new(
            self.redis().await?,
            self.config.login_max_failures,
            self.config.login_lockout_window,
        ))
    }
}
