//! Configuration from the environment.
//!
//! `APP_ENV=local` fills every missing setting with a value that works
//! against the local stack and prints nothing secret. `APP_ENV=aws` allows no
//! defaults for connection strings or secrets: a Lambda that starts with the
//! local JWT secret would accept tokens anyone can mint. A process must name
//! its environment ([`Config::from_env`], [`Config::from_process_vars`]): one
//! started without APP_ENV stops with a configuration error instead of
//! quietly accepting the public local secrets.

use std::{collections::HashMap, fmt, time::Duration};

/// The JWT secret used when nothing else is configured locally. Public on
/// purpose: it is printed by `make dev` and refused with `APP_ENV=aws`.
pub const LOCAL_JWT_SECRET: &str = "local-dev-secret-change-me-0123456789abcdef";
/// The local default ticket key; refused outside APP_ENV=local.
pub const LOCAL_TICKET_SECRET: &str = "local-ticket-secret-change-me-0123456789abcdef";
/// The local sender; the maildev inbox accepts any.
pub const LOCAL_MAIL_FROM: &str = "Box Office <tickets@box-office.localhost>";
const MIN_JWT_SECRET_BYTES: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    Local,
    Aws,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("APP_ENV must be `local` or `aws`, got `{0}`")]
    UnknownEnv(String),
    #[error("APP_ENV is not set: set APP_ENV=local for the local stack's public defaults, or APP_ENV=aws")]
    UnsetEnv,
    #[error("{0} must be set when APP_ENV=aws")]
    Missing(&'static str),
    #[error("{name} is not valid: {reason}")]
    Invalid { name: &'static str, reason: String },
    #[error("{0} is the public local default; set a real secret when APP_ENV=aws")]
    LocalSecretOutsideLocal(&'static str),
}

/// Argon2id cost. Production uses OWASP's minimum (19 MiB, 2 passes);
/// tests and storms lower the memory cost but keep the algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordCost {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl PasswordCost {
    pub const OWASP: PasswordCost = PasswordCost { memory_kib: 19_456, iterations: 2, parallelism: 1 };
}

/// Secrets never appear in `Debug` output (and so never in logs).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Where the notifier's e-mail goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailTransport {
    /// An SMTP server (`SMTP_URL`, lettre's URL form); locally the maildev
    /// inbox on 127.0.0.1:1025.
    Smtp { url: String },
    /// Amazon SES v2, sending as `identity_arn` (`MAIL_IDENTITY_ARN`) when
    /// set, with the configuration set `MAIL_CONFIGURATION_SET` when set.
    Ses { identity_arn: Option<String>, configuration_set: Option<String> },
}

/// How Kafka clients authenticate. MSK offers a listener per mode; the
/// resolver (msk.rs) picks the one that matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KafkaAuth {
    /// No TLS, no SASL: the local broker.
    Plaintext,
    Tls,
    /// SASL/SCRAM-SHA-512 over TLS.
    Scram {
        username: String,
        password: Secret,
    },
    /// SASL/OAUTHBEARER over TLS with tokens signed by the function's IAM
    /// role (MSK IAM access control).
    Iam {
        region: String,
    },
}

impl KafkaAuth {
    /// `KAFKA_AUTH` = plaintext | tls | scram | iam. Unset means scram when
    /// SCRAM credentials are present, else plaintext.
    fn from_vars<'a>(get: &impl Fn(&str) -> Option<&'a str>) -> Result<KafkaAuth, ConfigError> {
        let scram = || match (get("KAFKA_SASL_USERNAME"), get("KAFKA_SASL_PASSWORD")) {
            (Some(username), Some(password)) => {
                Ok(KafkaAuth::Scram { username: username.to_owned(), password: Secret::new(password) })
            }
            _ => Err(ConfigError::Invalid {
                name: "KAFKA_AUTH",
                reason: "scram needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD".into(),
            }),
        };
        match get("KAFKA_AUTH") {
            None if get("KAFKA_SASL_USERNAME").is_some() => scram(),
            None | Some("plaintext") => Ok(KafkaAuth::Plaintext),
            Some("tls") => Ok(KafkaAuth::Tls),
            Some("scram") => scram(),
            Some("iam") => match get("AWS_REGION") {
                Some(region) => Ok(KafkaAuth::Iam { region: region.to_owned() }),
                None => Err(ConfigError::Missing("AWS_REGION")),
            },
            Some(other) => Err(ConfigError::Invalid {
                name: "KAFKA_AUTH",
                reason: format!("`{other}` is not one of plaintext, tls, scram, iam"),
            }),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub app_env: AppEnv,
    pub database_url: Secret,
    pub redis_url: Secret,
    /// ElastiCache in cluster mode: commands are routed by key slot.
    pub redis_cluster: bool,
    /// PEM file of the CA that signs the Redis server's certificate, for a
    /// private CA; unset means the system's roots.
    pub redis_ca_file: Option<String>,
    pub mongo_url: Secret,
    pub mongo_database: String,
    /// Prefix for collection names. nx-27017 keeps every database in one
    /// namespace, so tests isolate their collections by name instead.
    pub mongo_collection_prefix: String,
    /// Bootstrap brokers; empty on AWS when `msk_cluster_arn` is set, in which
    /// case they are resolved at cold start (GetBootstrapBrokers).
    pub kafka_brokers: String,
    pub msk_cluster_arn: Option<String>,
    /// How clients authenticate to the brokers (`KAFKA_AUTH`).
    pub kafka_auth: KafkaAuth,
    /// Copies of each topic the migrator creates: 1 for the local broker,
    /// 3 on MSK (one per availability zone).
    pub kafka_replication_factor: i32,
    /// Partitions of each topic the migrator creates: 3 on AWS (the
    /// consumers' parallelism: one concurrent batch per partition), 1 for
    /// the local broker, where a single consumer per function reads them all
    /// anyway and every partition costs Tansu a lookup per fetch.
    pub kafka_partitions: i32,
    /// Connections per instance. On AWS, RDS Proxy multiplexes these.
    pub pg_max_connections: u32,
    pub mongo_max_pool: u32,
    pub jwt_secret: Secret,
    /// The key before the last rotation (`JWT_SECRET_PREVIOUS`; on AWS the
    /// secret's AWSPREVIOUS version): tokens it signed stay valid until they
    /// expire, so a rotation logs nobody out. Any older key is refused.
    pub jwt_previous_secret: Option<Secret>,
    pub jwt_ttl: Duration,
    /// `iss` and `aud` of the tokens this deployment issues and accepts, so a
    /// token of another deployment that shares the secret is refused.
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub password_cost: PasswordCost,
    /// Failed logins allowed for one email from one client address within
    /// `login_lockout_window`: a guesser elsewhere cannot lock the owner out.
    pub login_max_failures: u32,
    /// Failed logins allowed for one email from all addresses together in
    /// the window: a ceiling against distributed guessing, far above what
    /// locks a single address (200 addresses' worth with the defaults), so
    /// that locking the owner out takes a botnet, not a script.
    pub login_account_max_failures: u32,
    /// Login attempts (any email) allowed from one client address in the
    /// window.
    pub login_ip_max_attempts: u32,
    pub login_lockout_window: Duration,
    /// Requests per client address per minute on POST /bookings and POST
    /// /auth/register; 0 turns the limit off (the load benchmark does).
    pub bookings_per_ip_per_minute: u32,
    pub registrations_per_ip_per_minute: u32,
    /// Seats one user may hold or own per event (open and paid bookings
    /// together), unless the event sets its own.
    pub max_seats_per_user_per_event: u32,
    /// How long a user who cancelled seats waits before booking those same
    /// seats again (hold → cancel → hold would keep them off sale forever).
    pub rebook_cooldown: Duration,
    /// How long seats whose hold a fan let lapse stay out of that fan's
    /// reach, and how many lapses within `lapse_window` sit the fan out of
    /// the event until they leave it (`domain::purchase`).
    pub lapse_cooldown: Duration,
    pub max_lapses_per_event: u32,
    pub lapse_window: Duration,
    /// How long an Idempotency-Key claim without an answer stands before a
    /// retry may take it over (its first request died mid-flight). Longer
    /// than any request may run.
    pub idempotency_lease: Duration,
    /// Declined charges allowed per booking, per fan and per client address
    /// within an hour before paying answers 429 (`bookings::declines`); 0
    /// turns one off (the tests do for the address: every test client is
    /// 127.0.0.1).
    pub declines_per_booking: u32,
    pub declines_per_fan_per_hour: u32,
    pub declines_per_ip_per_hour: u32,
    /// How long an Idempotency-Key replays its first answer; the sweeper
    /// forgets older ones (a day, as payment APIs commonly keep them).
    pub idempotency_ttl: Duration,
    /// Most rows one sweeper step handles (expiries, refunds, relays); the
    /// sweeper repeats a step until it comes back short or time runs out.
    pub sweep_batch: u32,
    /// A charge still PROCESSING after this long lost its outcome (the
    /// process died while the provider decided): it becomes an owed refund.
    pub charge_abandoned_after: Duration,
    pub max_body_bytes: usize,
    pub hold_ttl: Duration,
    /// How long an outbox message may go unconsumed before the sweeper
    /// publishes it again (and then between its attempts). Longer than the
    /// consumers' normal lag, or every sweep would send duplicates.
    pub outbox_redeliver_after: Duration,
    pub max_seats_per_booking: usize,
    /// Prefix for Kafka topic names, so test runs never read each other's
    /// messages. Empty in production.
    pub topic_prefix: String,
    /// How long an instance trusts the on-sale settings it read; an admin's
    /// change reaches every instance within this.
    pub onsale_cache: Duration,
    /// The key e-tickets are signed with; on AWS only the ticket and
    /// check-in functions are given one (`TICKET_SECRET_ARN`).
    pub ticket_secret: Option<Secret>,
    /// The notifier's sender (`MAIL_FROM`, `Name <address>` or an address);
    /// on AWS only the notifier is given one.
    pub mail_from: Option<String>,
    pub mail_transport: MailTransport,
    /// The web app's origin (`WEB_URL`), which the links in account mail
    /// (verify the address, reset the password) open; locally the gateway.
    pub web_url: Option<String>,
    /// How long a notifier delivery keeps a notice to itself while it sends.
    pub notice_lease: Duration,
    /// How long seats offered to a waiting fan stay held for them.
    pub waitlist_claim: Duration,
    /// The value CloudFront adds to every API request as
    /// [`crate::http::ORIGIN_VERIFY_HEADER`] (current and, during a
    /// rotation, previous). Only a request carrying one of them may name the
    /// fan's address in `CloudFront-Viewer-Address`; empty means no request
    /// may (direct calls, the local gateway).
    pub origin_verify_secrets: Vec<Secret>,
    /// How long an instance trusts the secrets it read before reading them
    /// again (`SECRETS_TTL_SECS`): a rotated JWT key or database password
    /// reaches every warm instance within this.
    pub secrets_ttl: Duration,
    /// How long an instance trusts an account's role and token version read
    /// from the store (`ACCESS_CACHE_MS`): a demotion, a deleted account or a
    /// logout takes effect on every instance within this.
    pub access_cache: Duration,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_process_vars(&std::env::vars().collect())
    }

    /// A process's settings (its environment, with its secrets read): fails
    /// closed when APP_ENV is missing, so a deploy that forgets it never
    /// falls back to the public local JWT and ticket keys.
    pub fn from_process_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        if vars.get("APP_ENV").is_none_or(|v| v.trim().is_empty()) {
            return Err(ConfigError::UnsetEnv);
        }
        Self::from_map(vars)
    }

    /// Reads settings from any key/value source; processes go through
    /// [`Config::from_process_vars`], unit tests pass a literal map (where
    /// an absent APP_ENV means local).
    pub fn from_map(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |name: &str| vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        let app_env = match get("APP_ENV").unwrap_or("local") {
            "local" => AppEnv::Local,
            "aws" => AppEnv::Aws,
            other => return Err(ConfigError::UnknownEnv(other.to_owned())),
        };
        let local = app_env == AppEnv::Local;
        let required = |name: &'static str, local_default: &str| -> Result<String, ConfigError> {
            match get(name) {
                Some(v) => Ok(v.to_owned()),
                None if local => Ok(local_default.to_owned()),
                None => Err(ConfigError::Missing(name)),
            }
        };
        let number = |name: &'static str, default: u64| -> Result<u64, ConfigError> {
            get(name).map_or(Ok(default), |v| {
                v.parse::<u64>().map_err(|e| ConfigError::Invalid { name, reason: e.to_string() })
            })
        };
        let small = |name: &'static str, default: u64| -> Result<u32, ConfigError> {
            u32::try_from(number(name, default)?).map_err(|_| ConfigError::Invalid { name, reason: "too large".into() })
        };

        let flag = |name: &'static str| -> Result<bool, ConfigError> {
            match get(name) {
                None | Some("false") | Some("0") => Ok(false),
                Some("true") | Some("1") => Ok(true),
                Some(_) => Err(ConfigError::Invalid { name, reason: "must be true or false".into() }),
            }
        };

        let jwt_secret = required("JWT_SECRET", LOCAL_JWT_SECRET)?;
        if !local && jwt_secret == LOCAL_JWT_SECRET {
            return Err(ConfigError::LocalSecretOutsideLocal("JWT_SECRET"));
        }
        if jwt_secret.len() < MIN_JWT_SECRET_BYTES {
            return Err(ConfigError::Invalid {
                name: "JWT_SECRET",
                reason: format!("needs at least {MIN_JWT_SECRET_BYTES} bytes"),
            });
        }
        let jwt_previous_secret = match get("JWT_SECRET_PREVIOUS") {
            Some(secret) if secret.len() < MIN_JWT_SECRET_BYTES => {
                return Err(ConfigError::Invalid {
                    name: "JWT_SECRET_PREVIOUS",
                    reason: format!("needs at least {MIN_JWT_SECRET_BYTES} bytes"),
                })
            }
            Some(secret) if !local && secret == LOCAL_JWT_SECRET => {
                return Err(ConfigError::LocalSecretOutsideLocal("JWT_SECRET_PREVIOUS"))
            }
            Some(secret) if secret != jwt_secret => Some(Secret::new(secret)),
            _ => None,
        };
        let mut origin_verify_secrets = Vec::new();
        for name in ["ORIGIN_VERIFY_SECRET", "ORIGIN_VERIFY_SECRET_PREVIOUS"] {
            match get(name) {
                // Short values could be guessed, and then anyone could pick
                // the address the limits count against.
                Some(value) if value.len() < MIN_JWT_SECRET_BYTES => {
                    return Err(ConfigError::Invalid {
                        name,
                        reason: format!("needs at least {MIN_JWT_SECRET_BYTES} bytes"),
                    })
                }
                Some(value) => origin_verify_secrets.push(Secret::new(value)),
                None => {}
            }
        }
        let ticket_secret = match get("TICKET_SECRET") {
            Some(secret) if !local && secret == LOCAL_TICKET_SECRET => {
                return Err(ConfigError::LocalSecretOutsideLocal("TICKET_SECRET"))
            }
            Some(secret) if secret.len() < MIN_JWT_SECRET_BYTES => {
                return Err(ConfigError::Invalid {
                    name: "TICKET_SECRET",
                    reason: format!("needs at least {MIN_JWT_SECRET_BYTES} bytes"),
                })
            }
            Some(secret) => Some(Secret::new(secret)),
            None if local => Some(Secret::new(LOCAL_TICKET_SECRET)),
            None => None,
        };
        let mail_transport = match get("MAIL_TRANSPORT").unwrap_or(if local { "smtp" } else { "ses" }) {
            "smtp" => MailTransport::Smtp { url: get("SMTP_URL").unwrap_or("smtp://127.0.0.1:1025").to_owned() },
            "ses" => MailTransport::Ses {
                identity_arn: get("MAIL_IDENTITY_ARN").map(str::to_owned),
                configuration_set: get("MAIL_CONFIGURATION_SET").map(str::to_owned),
            },
            _ => return Err(ConfigError::Invalid { name: "MAIL_TRANSPORT", reason: "must be smtp or ses".into() }),
        };
        let default_cost = PasswordCost::OWASP;
        let password_cost = PasswordCost {
            memory_kib: small("ARGON2_MEMORY_KIB", default_cost.memory_kib.into())?,
            iterations: small("ARGON2_ITERATIONS", default_cost.iterations.into())?,
            parallelism: small("ARGON2_PARALLELISM", default_cost.parallelism.into())?,
        };
        let max_seats = number("MAX_SEATS_PER_BOOKING", 10)?;
        if !(1..=100).contains(&max_seats) {
            return Err(ConfigError::Invalid { name: "MAX_SEATS_PER_BOOKING", reason: "must be 1..=100".into() });
        }

        let database_url = required("DATABASE_URL", "postgres://postgres:postgres@127.0.0.1:5432/ticketing")?;
        if !local && !verifies_server(&database_url) {
            return Err(ConfigError::Invalid {
                name: "DATABASE_URL",
                reason: "must set sslmode=verify-full on AWS (require encrypts but accepts any server)".into(),
            });
        }

        Ok(Config {
            app_env,
            database_url: Secret::new(database_url),
            redis_url: Secret::new(required("REDIS_URL", "redis://127.0.0.1:6379/0")?),
            redis_cluster: flag("REDIS_CLUSTER")?,
            redis_ca_file: get("REDIS_CA_FILE").map(str::to_owned),
            mongo_url: Secret::new(required("MONGO_URL", "mongodb://127.0.0.1:27017/?directConnection=true")?),
            mongo_database: get("MONGO_DATABASE").unwrap_or("events_demo").to_owned(),
            mongo_collection_prefix: get("MONGO_COLLECTION_PREFIX").unwrap_or("").to_owned(),
            kafka_brokers: match (get("KAFKA_BROKERS"), get("MSK_CLUSTER_ARN")) {
                (Some(brokers), _) => brokers.to_owned(),
                (None, Some(_)) => String::new(),
                // On AWS only the functions with Kafka clients get Kafka
                // settings; the others never make a client.
                (None, None) if local => "127.0.0.1:19092".to_owned(),
                (None, None) => String::new(),
            },
            msk_cluster_arn: get("MSK_CLUSTER_ARN").map(str::to_owned),
            kafka_auth: KafkaAuth::from_vars(&get)?,
            kafka_replication_factor: i32::try_from(number("KAFKA_REPLICATION_FACTOR", 1)?)
                .ok()
                .filter(|n| (1..=5).contains(n))
                .ok_or(ConfigError::Invalid { name: "KAFKA_REPLICATION_FACTOR", reason: "must be 1..=5".into() })?,
            kafka_partitions: i32::try_from(number("KAFKA_PARTITIONS", if local { 1 } else { 3 })?)
                .ok()
                .filter(|n| (1..=64).contains(n))
                .ok_or(ConfigError::Invalid { name: "KAFKA_PARTITIONS", reason: "must be 1..=64".into() })?,
            pg_max_connections: small("PG_MAX_CONNECTIONS", 10)?,
            mongo_max_pool: small("MONGO_MAX_POOL", 8)?,
            jwt_secret: Secret::new(jwt_secret),
            jwt_previous_secret,
            jwt_ttl: Duration::from_secs(number("JWT_TTL_SECS", 3600)?),
            jwt_issuer: get("JWT_ISSUER").unwrap_or("ticket-booking").to_owned(),
            jwt_audience: get("JWT_AUDIENCE").unwrap_or("ticket-booking-api").to_owned(),
            password_cost,
            login_max_failures: small("LOGIN_MAX_FAILURES", 5)?,
            login_account_max_failures: small("LOGIN_ACCOUNT_MAX_FAILURES", 1000)?,
            login_ip_max_attempts: small("LOGIN_IP_MAX_ATTEMPTS", 300)?,
            login_lockout_window: Duration::from_secs(number("LOGIN_LOCKOUT_SECS", 15 * 60)?),
            bookings_per_ip_per_minute: small("BOOKINGS_PER_IP_PER_MINUTE", 120)?,
            registrations_per_ip_per_minute: small("REGISTRATIONS_PER_IP_PER_MINUTE", 20)?,
            max_seats_per_user_per_event: small("MAX_SEATS_PER_USER_PER_EVENT", 10)?,
            rebook_cooldown: Duration::from_secs(number("REBOOK_COOLDOWN_SECS", 120)?),
            lapse_cooldown: Duration::from_secs(number("LAPSE_COOLDOWN_SECS", 20 * 60)?),
            max_lapses_per_event: small("MAX_LAPSES_PER_EVENT", 2)?,
            lapse_window: Duration::from_secs(number("LAPSE_WINDOW_SECS", 60 * 60)?),
            idempotency_lease: Duration::from_secs(number("IDEMPOTENCY_LEASE_SECS", 60)?),
            declines_per_booking: small("DECLINES_PER_BOOKING", 5)?,
            declines_per_fan_per_hour: small("DECLINES_PER_FAN_PER_HOUR", 10)?,
            declines_per_ip_per_hour: small("DECLINES_PER_IP_PER_HOUR", 20)?,
            idempotency_ttl: Duration::from_secs(number("IDEMPOTENCY_TTL_SECS", 24 * 60 * 60)?),
            sweep_batch: small("SWEEP_BATCH", 500)?.max(1),
            charge_abandoned_after: Duration::from_secs(number("CHARGE_ABANDONED_AFTER_SECS", 300)?),
            max_body_bytes: number("MAX_BODY_BYTES", 1024 * 1024)? as usize,
            hold_ttl: Duration::from_secs(number("HOLD_TTL_SECS", 600)?),
            outbox_redeliver_after: Duration::from_secs(number("OUTBOX_REDELIVER_AFTER_SECS", 60)?),
            max_seats_per_booking: max_seats as usize,
            topic_prefix: get("TOPIC_PREFIX").unwrap_or("").to_owned(),
            onsale_cache: Duration::from_millis(number("ONSALE_CACHE_MS", 1000)?),
            ticket_secret,
            mail_from: get("MAIL_FROM").or(local.then_some(LOCAL_MAIL_FROM)).map(str::to_owned),
            mail_transport,
            web_url: get("WEB_URL")
                .or(local.then_some("http://127.0.0.1:3000"))
                .map(|url| url.trim_end_matches('/').to_owned()),
            notice_lease: Duration::from_secs(number("NOTICE_LEASE_SECS", 20)?.max(1)),
            waitlist_claim: Duration::from_secs(number("WAITLIST_CLAIM_SECS", 15 * 60)?.max(1)),
            origin_verify_secrets,
            secrets_ttl: Duration::from_secs(number("SECRETS_TTL_SECS", 300)?.max(1)),
            access_cache: Duration::from_millis(number("ACCESS_CACHE_MS", 5000)?),
        })
    }

    pub fn is_local(&self) -> bool {
        self.app_env == AppEnv::Local
    }
}

/// Whether a PostgreSQL URL checks the server's certificate and host name.
/// With `sslmode=require` a machine in the path could pose as RDS Proxy. The
/// proxy presents an ACM certificate, which chains to the Amazon roots in
/// sqlx's bundled webpki roots, so no CA file is needed for it.
fn verifies_server(url: &str) -> bool {
    let query = url.split_once('?').map_or("", |(_, query)| query);
    form_urlencoded::parse(query.as_bytes()).any(|(key, value)| key == "sslmode" && value == "verify-full")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn local_mode_fills_every_default() {
        let config = Config::from_map(&vars(&[])).unwrap();
        assert_eq!(config.app_env, AppEnv::Local);
        assert_eq!(config.jwt_secret.expose(), LOCAL_JWT_SECRET);
        assert_eq!(config.max_body_bytes, 1024 * 1024);
        assert_eq!(config.hold_ttl, Duration::from_secs(600));
        assert_eq!(config.password_cost, PasswordCost::OWASP);
    }

    #[test]
    fn a_process_without_app_env_fails_closed() {
        assert_eq!(Config::from_process_vars(&vars(&[])).unwrap_err(), ConfigError::UnsetEnv);
        assert_eq!(Config::from_process_vars(&vars(&[("APP_ENV", " ")])).unwrap_err(), ConfigError::UnsetEnv);
        let jwt = "j".repeat(40);
        let err = Config::from_process_vars(&vars(&[("JWT_SECRET", &jwt)])).unwrap_err();
        assert_eq!(err, ConfigError::UnsetEnv, "a real JWT secret does not make the other defaults safe");
        let local = Config::from_process_vars(&vars(&[("APP_ENV", "local")])).unwrap();
        assert_eq!(local.jwt_secret.expose(), LOCAL_JWT_SECRET);
    }

    #[test]
    fn the_previous_jwt_key_and_origin_secrets_are_checked_like_the_current_key() {
        let config = Config::from_map(&vars(&[
            ("JWT_SECRET_PREVIOUS", &"p".repeat(40)),
            ("ORIGIN_VERIFY_SECRET", &"o".repeat(40)),
        ]))
        .unwrap();
        assert!(config.jwt_previous_secret.is_some());
        assert_eq!(config.origin_verify_secrets.len(), 1);
        let same = Config::from_map(&vars(&[("JWT_SECRET_PREVIOUS", LOCAL_JWT_SECRET)])).unwrap();
        assert!(same.jwt_previous_secret.is_none(), "a previous key equal to the current one is no second key");
        for name in ["JWT_SECRET_PREVIOUS", "ORIGIN_VERIFY_SECRET"] {
            assert!(matches!(
                Config::from_map(&vars(&[(name, "short")])),
                Err(ConfigError::Invalid { name: n, .. }) if n == name
            ));
        }
    }

    #[test]
    fn aws_mode_requires_connection_strings() {
        let err = Config::from_map(&vars(&[("APP_ENV", "aws"), ("JWT_SECRET", &"x".repeat(40))])).unwrap_err();
        assert_eq!(err, ConfigError::Missing("DATABASE_URL"));
    }

    #[test]
    fn aws_mode_accepts_an_msk_cluster_instead_of_brokers() {
        let config = Config::from_map(&vars(&[
            ("APP_ENV", "aws"),
            ("JWT_SECRET", &"x".repeat(40)),
            ("DATABASE_URL", "postgres://db/x?sslmode=verify-full"),
            ("REDIS_URL", "rediss://cache:6379"),
            ("MONGO_URL", "mongodb://docdb:27017"),
            ("MSK_CLUSTER_ARN", "arn:aws:kafka:us-east-1:1:cluster/c/u"),
        ]))
        .unwrap();
        assert_eq!(config.kafka_brokers, "");
        assert!(config.msk_cluster_arn.is_some());
    }

    #[test]
    fn aws_mode_needs_a_verified_database_connection_and_no_kafka_settings() {
        let aws = |database_url: &str| {
            Config::from_map(&vars(&[
                ("APP_ENV", "aws"),
                ("JWT_SECRET", &"x".repeat(40)),
                ("DATABASE_URL", database_url),
                ("REDIS_URL", "rediss://cache:6379"),
                ("MONGO_URL", "mongodb://docdb:27017"),
            ]))
        };
        for unverified in
            ["postgres://proxy/db", "postgres://proxy/db?sslmode=require", "postgres://p/db?x=verify-full"]
        {
            assert!(matches!(aws(unverified), Err(ConfigError::Invalid { name: "DATABASE_URL", .. })), "{unverified}");
        }
        let config = aws("postgres://proxy/db?application_name=x&sslmode=verify-full").unwrap();
        assert_eq!(config.kafka_brokers, "", "a function deployed without Kafka settings has no brokers");
        assert!(config.msk_cluster_arn.is_none());
    }

    #[test]
    fn aws_mode_refuses_the_local_jwt_secret() {
        let err = Config::from_map(&vars(&[("APP_ENV", "aws"), ("JWT_SECRET", LOCAL_JWT_SECRET)])).unwrap_err();
        assert_eq!(err, ConfigError::LocalSecretOutsideLocal("JWT_SECRET"));
    }

    #[test]
    fn aws_mode_refuses_the_local_ticket_key_by_its_own_name() {
        let jwt = "j".repeat(40);
        let vars = vars(&[("APP_ENV", "aws"), ("JWT_SECRET", &jwt), ("TICKET_SECRET", LOCAL_TICKET_SECRET)]);
        let err = Config::from_map(&vars).unwrap_err();
        assert_eq!(err, ConfigError::LocalSecretOutsideLocal("TICKET_SECRET"));
        assert!(err.to_string().starts_with("TICKET_SECRET is the public local default"), "{err}");
    }

    #[test]
    fn aws_mode_refuses_a_missing_jwt_secret() {
        let err = Config::from_map(&vars(&[("APP_ENV", "aws")])).unwrap_err();
        assert_eq!(err, ConfigError::Missing("JWT_SECRET"));
    }

    #[test]
    fn short_secrets_and_bad_numbers_are_rejected() {
        assert!(matches!(
            Config::from_map(&vars(&[("JWT_SECRET", "short")])),
            Err(ConfigError::Invalid { name: "JWT_SECRET", .. })
        ));
        assert!(matches!(
            Config::from_map(&vars(&[("HOLD_TTL_SECS", "ten")])),
            Err(ConfigError::Invalid { name: "HOLD_TTL_SECS", .. })
        ));
        assert!(matches!(
            Config::from_map(&vars(&[("MAX_SEATS_PER_BOOKING", "0")])),
            Err(ConfigError::Invalid { name: "MAX_SEATS_PER_BOOKING", .. })
        ));
        assert!(matches!(Config::from_map(&vars(&[("APP_ENV", "prod")])), Err(ConfigError::UnknownEnv(_))));
    }

    #[test]
    fn kafka_auth_is_explicit_or_follows_the_scram_credentials() {
        let auth = |pairs: &[(&str, &str)]| Config::from_map(&vars(pairs)).map(|c| c.kafka_auth);
        assert_eq!(auth(&[]), Ok(KafkaAuth::Plaintext));
        assert_eq!(auth(&[("KAFKA_AUTH", "tls")]), Ok(KafkaAuth::Tls));
        assert!(matches!(
            auth(&[("KAFKA_SASL_USERNAME", "u"), ("KAFKA_SASL_PASSWORD", "p")]),
            Ok(KafkaAuth::Scram { username, .. }) if username == "u"
        ));
        assert!(matches!(auth(&[("KAFKA_AUTH", "scram")]), Err(ConfigError::Invalid { name: "KAFKA_AUTH", .. })));
        assert_eq!(
            auth(&[("KAFKA_AUTH", "iam"), ("AWS_REGION", "eu-west-1")]),
            Ok(KafkaAuth::Iam { region: "eu-west-1".into() })
        );
        assert_eq!(auth(&[("KAFKA_AUTH", "iam")]), Err(ConfigError::Missing("AWS_REGION")));
        assert!(matches!(auth(&[("KAFKA_AUTH", "kerberos")]), Err(ConfigError::Invalid { name: "KAFKA_AUTH", .. })));
    }

    #[test]
    fn redis_cluster_mode_is_a_strict_flag() {
        assert!(!Config::from_map(&vars(&[])).unwrap().redis_cluster);
        assert!(Config::from_map(&vars(&[("REDIS_CLUSTER", "true")])).unwrap().redis_cluster);
        assert!(matches!(
            Config::from_map(&vars(&[("REDIS_CLUSTER", "yes please")])),
            Err(ConfigError::Invalid { name: "REDIS_CLUSTER", .. })
        ));
    }

    #[test]
    fn secrets_are_redacted_in_debug_output() {
        let config = Config::from_map(&vars(&[])).unwrap();
        let printed = format!("{config:?}");
        assert!(!printed.contains(LOCAL_JWT_SECRET));
        assert!(!printed.contains("postgres:postgres"));
    }
}
