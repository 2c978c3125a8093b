//! Scratch data for local runs, tests and the bench: creating the database
//! on a shared local server, and dropping test and bench data before a run.
//! Compiled only with the `dev` feature (the local gateway, the tests and the
//! bench turn it on), so no Lambda links code that drops databases.

use sqlx::{postgres::PgConnectOptions, ConnectOptions, Connection};

use crate::{config::Config, repo::mongo_events::MongoEvents};

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
