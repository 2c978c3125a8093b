//! One-off setup: database, migrations, Kafka topics, the admin account.
//! Run by `local-gateway setup` locally and by the migrator on deploy, never
//! from a request handler.

use std::time::Duration;

use rdkafka::{
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    types::RDKafkaErrorCode,
};
use sqlx::{postgres::PgConnectOptions, ConnectOptions, Connection};

use crate::{
    config::{Config, Secret},
    domain::user::{Email, NewUser, Role, Tier},
    kafka,
    repo::{mongo_events::MongoEvents, UserStore},
    state::State,
};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Creates the configured database if it does not exist (locally the server
/// is shared with other projects; on AWS the stack creates it).
pub async fn ensure_database(config: &Config) -> anyhow::Result<()> {
    let options: PgConnectOptions = config.database_url.expose().parse()?;
    let name = options.get_database().unwrap_or("postgres").to_owned();
    let mut admin = options.clone().database("postgres").connect().await?;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(&name)
        .fetch_one(&mut admin)
        .await?;
    if !exists {
        // Identifiers cannot be bound parameters; quote it as Postgres does.
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        if let Err(err) = sqlx::query(&format!("CREATE DATABASE {quoted}")).execute(&mut admin).await {
            // Two setups racing: the other one created it.
            if !crate::repo::is_unique_violation(&err) && !err.to_string().contains("already exists") {
                return Err(err.into());
            }
        }
    }
    admin.close().await?;
    Ok(())
}

/// Scratch data, dropped before a test or bench run: database names end in
/// one of these, Mongo collection prefixes are one of these. Nothing else
/// is ever dropped.
const SCRATCH_DATABASE_SUFFIXES: [&str; 2] = ["_test", "_bench"];
const SCRATCH_COLLECTION_PREFIXES: [&str; 2] = ["test_", "bench_"];

/// Drops the configured PostgreSQL database so a run starts from its
/// migrations. Refused unless the name marks it as scratch data.
pub async fn drop_scratch_database(config: &Config) -> anyhow::Result<()> {
    let options: PgConnectOptions = config.database_url.expose().parse()?;
    let name = options.get_database().unwrap_or_default().to_owned();
    anyhow::ensure!(
        SCRATCH_DATABASE_SUFFIXES.iter().any(|suffix| name.ends_with(suffix)),
        "refusing to drop `{name}`: only *_test and *_bench databases are dropped"
    );
    let mut admin = options.database("postgres").connect().await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", name.replace('"', "\"\"")))
        .execute(&mut admin)
        .await?;
    admin.close().await?;
    Ok(())
}

/// Drops the configured Mongo collections, so a run does not start behind
/// every earlier run's events (the local Mongo-wire server slows down as
/// they pile up: a bench run adds 45,000 seats). Refused unless the prefix
/// marks them as scratch data.
pub async fn drop_scratch_collections(config: &Config) -> anyhow::Result<()> {
    let prefix = &config.mongo_collection_prefix;
    anyhow::ensure!(
        SCRATCH_COLLECTION_PREFIXES.contains(&prefix.as_str()),
        "refusing to drop the collections prefixed `{prefix}`: only test_ and bench_ collections are dropped"
    );
    let mongo = mongodb::Client::with_uri_str(config.mongo_url.expose()).await?;
    MongoEvents::new(&mongo.database(&config.mongo_database), prefix).drop_collections().await?;
    Ok(())
}

pub async fn migrate(state: &State) -> anyhow::Result<()> {
    MIGRATOR.run(state.pg()).await?;
    Ok(())
}

/// Creates every topic and its dead-letter topic; existing ones are kept.
pub async fn create_topics(config: &Config) -> anyhow::Result<Vec<String>> {
    let admin: AdminClient<kafka::KafkaContext> = kafka::client_config(config)
        .await?
        .set("socket.connection.setup.timeout.ms", "5000")
        .create_with_context(kafka::KafkaContext::for_config(config).await)?;
    let names = kafka::topic_names(config);
    // With three copies, acks=all must mean at least two of them: a write
    // acknowledged by one broker alone could be lost with that broker.
    let min_in_sync = (config.kafka_replication_factor >= 3).then_some("2");
    let new_topics: Vec<NewTopic> = names
        .iter()
        .map(|name| {
            let replicas = TopicReplication::Fixed(config.kafka_replication_factor);
            let topic = NewTopic::new(name, config.kafka_partitions, replicas);
            match min_in_sync {
                Some(n) => topic.set("min.insync.replicas", n),
                None => topic,
            }
        })
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let results = admin.create_topics(&new_topics, &options).await?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => anyhow::bail!("creating topic {topic}: {code}"),
        }
    }
    Ok(names)
}

/// The admin account from ADMIN_EMAIL / ADMIN_PASSWORD. An existing account
/// keeps its password (so a restart never resets what someone changed) but
/// is made admin.
pub async fn ensure_admin(state: &State, email: &str, password: &Secret) -> anyhow::Result<()> {
    let email = Email::parse(email).map_err(|problem| anyhow::anyhow!("ADMIN_EMAIL {problem}"))?;
    let users = state.users();
    if users.find_by_email(&email).await.map_err(|e| anyhow::anyhow!("{e}"))?.is_none() {
        let admin = NewUser {
            email: email.clone(),
            name: "Administrator".into(),
            password: password.expose().to_owned(),
            phone: None,
            tier: Tier::Vip,
            role: Role::Admin,
        };
        let hash = state.passwords.hash(&admin.password).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        match users.insert(&admin, &hash).await {
            Ok(_) | Err(crate::ApiError::Conflict { .. }) => {}
            Err(other) => return Err(anyhow::anyhow!("{other}")),
        }
    }
    sqlx::query("UPDATE users_demo.users SET role = 'admin', updated_at = now() WHERE email = $1 AND role <> 'admin'")
        .bind(email.as_ref())
        .execute(state.pg())
        .await?;
    Ok(())
}
