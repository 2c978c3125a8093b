//! One-off setup: migrations, Kafka topics, the admin account. Run by
//! `local-gateway setup` locally and by the migrator on deploy, never from a
//! request handler. Creating and dropping scratch databases is `scratch.rs`,
//! which only local tools link.

use std::time::Duration;

use rdkafka::{
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    types::RDKafkaErrorCode,
};

use crate::{
    config::{Config, Secret},
    domain::user::{Email, NewUser, Role, Tier},
    kafka,
    repo::UserStore,
    state::State,
};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

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
