//! Everything a function needs, built once per Lambda instance (cold start)
//! and borrowed by every invocation. Nothing here connects eagerly: the
//! Postgres pool is lazy, the Mongo driver connects on first use, and Redis
//! and Kafka clients are made on first use and then reused.

use std::{sync::Arc, time::Duration};

use sqlx::{postgres::PgPoolOptions, PgPool};
use tokio::sync::OnceCell;

use crate::{
    auth::{JwtKeys, PasswordHasherService},
    bookings::{declines::CardTestingGuard, Bookings},
    catalog::LayoutCache,
    config::Config,
    error::ApiError,
    kafka,
    kafka::KafkaPublisher,
    notifier::{Mailer, Notifier, StoredFacts},
    payments::{PaymentProvider, TestCardProvider},
    repo::{
        mongo_events::MongoEvents,
        pg_bookings::PgBookings,
        pg_checkins::PgCheckIns,
        pg_notices::PgNotices,
        pg_onsales::PgOnSales,
        pg_sales::PgSales,
        pg_users::PgUsers,
        pg_waitlist::PgWaitlist,
        redis_conn::RedisConn,
        redis_queue::RedisQueue,
        redis_seats::RedisSeatBoard,
        redis_throttle::{RedisDeclineCounter, RedisLoginThrottle, RedisRateLimiter},
    },
    tickets::{TicketSigner, Tickets},
    waiting_room::{AdmissionPasses, OnSaleCache, WaitingRoom},
    waitlist::Waitlist,
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
    pub onsales: OnSaleCache,
    pub passes: AdmissionPasses,
    ticket_signer: Option<TicketSigner>,
    /// Signs the links in account mail (verify the address, reset the password).
    pub links: crate::account_links::LinkSigner,
    pg: PgPool,
    mongo: mongodb::Client,
    redis: OnceCell<RedisConn>,
    kafka: kafka::ProducerSlot,
    mailer: OnceCell<Box<dyn Mailer>>,
    /// Accounts' roles and token versions as this instance last read them.
    access_cache: crate::sessions::AccessCache,
    /// The CloudFront origin secret (current, previous); replaced when the
    /// secrets are read again.
    origin_secrets: std::sync::RwLock<Vec<crate::config::Secret>>,
    /// On AWS: when and how to read the secrets again (`None` locally).
    secret_refresh: Option<crate::secrets::Refresh>,
}

impl State {
    /// The function's settings from its environment, with the secrets whose
    /// ARNs it names read from Secrets Manager (once: this runs per cold start).
    pub async fn from_env() -> anyhow::Result<State> {
        let env: std::collections::HashMap<String, String> = std::env::vars().collect();
        let mut vars = env.clone();
        crate::secrets::resolve(&mut vars).await?;
        let mut state = State::new(Config::from_process_vars(&vars)?).await?;
        state.secret_refresh = crate::secrets::Refresh::new(env, state.config.secrets_ttl);
        Ok(state)
    }

    pub async fn new(config: Config) -> anyhow::Result<State> {
        // rustls is compiled with two crypto providers (ring for sqlx,
        // aws-lc-rs for the AWS SDK), so it cannot pick one by itself, and
        // the Redis TLS client asks for the process default: name it once.
        let _already_installed = rustls::crypto::ring::default_provider().install_default();
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
            jwt: {
                let keys = JwtKeys::new(&config.jwt_secret, config.jwt_ttl, &config.jwt_issuer, &config.jwt_audience);
                keys.rotate(&config.jwt_secret, config.jwt_previous_secret.as_ref());
                keys
            },
            access_cache: crate::sessions::AccessCache::new(config.access_cache),
            origin_secrets: std::sync::RwLock::new(config.origin_verify_secrets.clone()),
            secret_refresh: None,
            passwords: PasswordHasherService::new(config.password_cost)?,
            layouts: LayoutCache::default(),
            onsales: OnSaleCache::new(config.onsale_cache),
            passes: AdmissionPasses::from_config(&config),
            ticket_signer: TicketSigner::from_config(&config),
            links: crate::account_links::LinkSigner::from_config(&config),
            payments: Box::new(TestCardProvider),
            config,
            pg,
            mongo,
            redis: OnceCell::new(),
            kafka: kafka::ProducerSlot::default(),
            mailer: OnceCell::new(),
        })
    }

    /// The caller's claims if their token is valid and not revoked (see
    /// `services::sessions`).
    pub async fn authenticate(&self, req: &lambda_http::Request) -> Result<crate::auth::Claims, ApiError> {
        self.authorize(req, crate::sessions::Need::Account).await
    }

    /// Door staff or an admin, per the store: who may check tickets in.
    pub async fn require_staff(&self, req: &lambda_http::Request) -> Result<crate::auth::Claims, ApiError> {
        self.authorize(req, crate::sessions::Need::Staff).await
    }

    /// An admin, per the store.
    pub async fn require_admin(&self, req: &lambda_http::Request) -> Result<crate::auth::Claims, ApiError> {
        self.authorize(req, crate::sessions::Need::Admin).await
    }

    async fn authorize(
        &self,
        req: &lambda_http::Request,
        need: crate::sessions::Need,
    ) -> Result<crate::auth::Claims, ApiError> {
        self.refresh_secrets(false).await;
        let token = crate::auth::bearer_token(req)?;
        let claims = match self.jwt.verify(token) {
            // Signed with a key this instance has not read yet (another
            // instance saw the rotation first), or forged: reading the
            // secrets again tells which.
            Err(_) if self.jwt.names_unknown_key(token) => {
                self.refresh_secrets(true).await;
                self.jwt.verify(token)?
            }
            verified => verified?,
        };
        crate::sessions::authorize(&self.access(), &self.access_cache, claims, need).await
    }

    /// `POST /auth/password-reset/confirm`, revoking the account's older
    /// tokens with the reset.
    pub async fn confirm_password_reset(
        &self,
        request: crate::accounts::ResetConfirm,
    ) -> Result<crate::accounts::PasswordReset, ApiError> {
        let sessions = (&self.access() as &dyn crate::repo::AccessStore, &self.access_cache);
        crate::accounts::confirm_password_reset(&self.users(), &self.passwords, &self.links, sessions, request).await
    }

    /// Revokes every token of the caller's account.
    pub async fn logout(&self, claims: &crate::auth::Claims) -> Result<(), ApiError> {
        crate::sessions::logout(&self.access(), &self.access_cache, claims).await
    }

    /// `PUT /users/{id}/role`, revoking the account's older tokens.
    pub async fn set_role(
        &self,
        admin: &crate::auth::Claims,
        user: uuid::Uuid,
        change: crate::accounts::RoleChange,
    ) -> Result<crate::domain::user::User, ApiError> {
        crate::sessions::set_role(&self.users(), &self.access(), &self.access_cache, admin, user, change).await
    }

    pub fn access(&self) -> crate::repo::pg_access::PgAccess {
        crate::repo::pg_access::PgAccess::new(self.pg.clone())
    }

    /// The address per-address limits count against (see
    /// [`crate::http::client_ip`]).
    pub fn client_ip(&self, req: &lambda_http::Request) -> String {
        let secrets = self.origin_secrets.read().unwrap_or_else(|p| p.into_inner());
        crate::http::client_ip(req, &secrets)
    }

    /// Reads the secrets again when due (see `secrets::Refresh`) and puts
    /// the new values to work: JWT keys at once, the origin secret at once,
    /// a new database password for the connections opened from now on. A
    /// failed read keeps what the instance had.
    async fn refresh_secrets(&self, forced: bool) {
        let Some(refresh) = &self.secret_refresh else { return };
        let vars = match refresh.run(forced).await {
            Ok(Some(vars)) => vars,
            Ok(None) => return,
            Err(err) => {
                tracing::warn!(error.cause_chain = ?err, "reading the secrets again failed; keeping those read before");
                return;
            }
        };
        let long_enough = |name: &str| vars.get(name).filter(|v| v.len() >= 32).map(crate::config::Secret::new);
        if let Some(current) = long_enough("JWT_SECRET") {
            self.jwt.rotate(&current, long_enough("JWT_SECRET_PREVIOUS").as_ref());
        }
        if vars.contains_key("ORIGIN_VERIFY_SECRET") {
            let secrets = ["ORIGIN_VERIFY_SECRET", "ORIGIN_VERIFY_SECRET_PREVIOUS"].into_iter().filter_map(long_enough);
            *self.origin_secrets.write().unwrap_or_else(|p| p.into_inner()) = secrets.collect();
        }
        if let Some(url) = vars.get("DATABASE_URL").filter(|url| *url != self.config.database_url.expose()) {
            match url.parse::<sqlx::postgres::PgConnectOptions>() {
                Ok(options) => self.pg.set_connect_options(options),
                Err(err) => {
                    tracing::warn!(error = %err, "the re-read DATABASE_URL does not parse; keeping the old one")
                }
            }
        }
        tracing::info!("secrets read again");
    }

    pub fn pg(&self) -> &PgPool {
        &self.pg
    }

    pub fn mongo(&self) -> mongodb::Database {
        self.mongo.database(&self.config.mongo_database)
    }

    pub async fn redis(&self) -> Result<RedisConn, ApiError> {
        self.redis
            .get_or_try_init(|| async {
                let root_ca = match &self.config.redis_ca_file {
                    Some(path) => Some(std::fs::read(path).map_err(|e| {
                        ApiError::Internal(anyhow::Error::new(e).context(format!("reading REDIS_CA_FILE {path}")))
                    })?),
                    None => None,
                };
                let (url, cluster) = (self.config.redis_url.expose(), self.config.redis_cluster);
                RedisConn::connect(url, cluster, root_ca, STORE_TIMEOUT).await.map_err(ApiError::from)
            })
            .await
            .cloned()
    }

    pub async fn kafka(&self) -> Result<Arc<kafka::Producer>, ApiError> {
        self.publisher().producer().await
    }

    /// Recreates the topics if the broker lost them (see
    /// `ProducerSlot::repair_topics`); `topic` is one this caller found gone.
    pub async fn repair_topics(&self, topic: &str) {
        if let Ok(producer) = self.kafka().await {
            self.kafka.repair_topics(producer, topic, &self.config);
        }
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

    pub fn publisher(&self) -> KafkaPublisher<'_> {
        KafkaPublisher { slot: &self.kafka, config: &self.config }
    }

    pub fn sales(&self) -> PgSales {
        PgSales::new(self.pg.clone())
    }

    /// The bookings in PostgreSQL, for callers that only read or record
    /// (the booking service wraps the same store with holds and relay).
    pub fn booking_repo(&self) -> PgBookings {
        PgBookings::new(self.pg.clone())
    }

    /// The booking service wired to this instance's stores.
    pub async fn bookings(&self) -> Result<Bookings<'_>, ApiError> {
        Ok(Bookings {
            config: &self.config,
            repo: Box::new(self.booking_repo()),
            holds: Box::new(self.seat_board().await?),
            publisher: Box::new(self.publisher()),
            catalog: Box::new(self.events()),
            layouts: &self.layouts,
            gate: Box::new(self.waiting_room().await?),
        })
    }

    /// E-tickets and the door, wired to this instance's stores.
    pub fn tickets(&self) -> Result<Tickets<'_>, ApiError> {
        Ok(Tickets {
            signer: self
                .ticket_signer
                .as_ref()
                .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("TICKET_SECRET is not set for this function")))?,
            bookings: Box::new(self.booking_repo()),
            checkins: Box::new(PgCheckIns::new(self.pg.clone())),
        })
    }

    /// This instance's mail service (the SMTP pool or SES client is made
    /// once, on first use).
    pub async fn mailer(&self) -> Result<&dyn Mailer, ApiError> {
        let mailer =
            self.mailer.get_or_try_init(|| crate::mail::from_config(&self.config)).await.map_err(ApiError::Internal)?;
        Ok(mailer.as_ref())
    }

    /// Door staff per event.
    pub fn event_staff(&self) -> crate::repo::pg_staff::PgEventStaff {
        crate::repo::pg_staff::PgEventStaff::new(self.pg.clone())
    }

    /// The web app's origin, which account mail links to.
    pub fn web_url(&self) -> Result<&str, ApiError> {
        self.config
            .web_url
            .as_deref()
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("WEB_URL is not set for this function")))
    }

    /// The notifier wired to this instance's stores and mail service.
    pub async fn notifier(&self) -> Result<Notifier<'_>, ApiError> {
        let mailer = self.mailer().await?;
        Ok(Notifier {
            source: Box::new(StoredFacts {
                bookings: Box::new(self.booking_repo()),
                notices: PgNotices::new(self.pg.clone()),
                catalog: Box::new(self.events()),
                layouts: &self.layouts,
                signer: self.ticket_signer.as_ref(),
            }),
            ledger: Box::new(PgNotices::new(self.pg.clone())),
            mailer,
            lease: self.config.notice_lease,
        })
    }

    /// The waiting lists of sold-out events, wired to this instance's stores.
    pub async fn waitlist(&self) -> Result<Waitlist<'_>, ApiError> {
        Ok(Waitlist {
            bookings: self.bookings().await?,
            list: Box::new(PgWaitlist::new(self.pg.clone())),
            board: Box::new(self.seat_board().await?),
        })
    }

    /// The on-sale waiting room wired to this instance's stores.
    pub async fn waiting_room(&self) -> Result<WaitingRoom<'_>, ApiError> {
        Ok(WaitingRoom {
            sales: Box::new(PgOnSales::new(self.pg.clone())),
            cache: &self.onsales,
            queue: Box::new(RedisQueue::new(self.redis().await?)),
            passes: &self.passes,
            layouts: &self.layouts,
            catalog: Box::new(self.events()),
        })
    }

    /// The card-testing guard around payments (declines counted in Redis).
    pub async fn card_testing_guard(&self) -> Result<CardTestingGuard<'_>, ApiError> {
        Ok(CardTestingGuard { counter: Box::new(RedisDeclineCounter::new(self.redis().await?)), config: &self.config })
    }

    pub async fn login_throttle(&self) -> Result<RedisLoginThrottle, ApiError> {
        Ok(RedisLoginThrottle::new(self.redis().await?, &self.config))
    }

    pub async fn rate_limiter(&self) -> Result<RedisRateLimiter, ApiError> {
        Ok(RedisRateLimiter::new(self.redis().await?))
    }

    /// Account mail (verification, reset, "you already have an account"),
    /// at most one of a kind per address a minute, counted by `quota`.
    pub async fn account_mailer<'a>(
        &'a self,
        quota: &'a dyn crate::repo::RateLimiter,
    ) -> Result<crate::accounts::AccountMailer<'a>, ApiError> {
        Ok(crate::accounts::AccountMailer {
            mailer: self.mailer().await?,
            links: &self.links,
            web_url: self.web_url()?,
            quota,
        })
    }
}
