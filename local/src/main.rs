//! `local-gateway setup` prepares the stores; `local-gateway serve` serves
//! every HTTP function from template.yaml on 127.0.0.1:3000.

use std::{net::SocketAddr, sync::Arc};

use anyhow::Context;
use shared::{config::Secret, State};

const LOCAL_ADMIN_EMAIL: &str = "admin@ticketing.local";
const LOCAL_ADMIN_PASSWORD: &str = "admin-password-local";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::telemetry::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("setup") => setup(args.get(1).map(String::as_str) == Some("--fresh")).await,
        Some("serve") => serve(&args[1..]).await,
        Some("aws-calls") => aws_calls(&args[1..]),
        _ => {
            eprintln!(
                "usage: local-gateway setup [--fresh] | serve [--port N] [--template PATH] | aws-calls --kafka msk|self-managed --auth iam|scram|tls|plaintext"
            );
            std::process::exit(2);
        }
    }
}

async fn setup(fresh: bool) -> anyhow::Result<()> {
    let config = shared::config::Config::from_env()?;
    if fresh {
        shared::scratch::drop_scratch_database(&config).await.context("dropping the scratch database")?;
        shared::scratch::drop_scratch_collections(&config).await.context("dropping the scratch collections")?;
        println!("  ✓ scratch database and collections dropped");
    }
    shared::scratch::ensure_database(&config).await.context("creating the database")?;
    let state = State::new(config).await?;
    shared::setup::migrate(&state).await.context("running migrations")?;
    println!("  ✓ postgres migrated");
    let topics = shared::setup::create_topics(&state.config).await.context("creating kafka topics")?;
    println!("  ✓ kafka topics: {}", topics.join(" "));
    let events = state.events();
    events.create_indexes().await.context("creating mongo indexes")?;
    let created = shared::seed::seed(&events, chrono::Utc::now()).await.context("seeding sample events")?;
    println!("  ✓ mongo indexes; sample events: {created} new, {} already there", 3 - created);
    let (email, password) = admin_credentials(&state)?;
    shared::setup::ensure_admin(&state, &email, &password).await.context("seeding the admin user")?;
    println!("  ✓ admin user: {email}");
    Ok(())
}

fn admin_credentials(state: &State) -> anyhow::Result<(String, Secret)> {
    let email = std::env::var("ADMIN_EMAIL").ok().filter(|v| !v.is_empty());
    let password = std::env::var("ADMIN_PASSWORD").ok().filter(|v| !v.is_empty());
    match (email, password) {
        (Some(email), Some(password)) => Ok((email, Secret::new(password))),
        (email, password) if state.config.is_local() => {
            if password.is_none() {
                println!("    (local default password `{LOCAL_ADMIN_PASSWORD}`; set ADMIN_PASSWORD to change it)");
            }
            Ok((
                email.unwrap_or_else(|| LOCAL_ADMIN_EMAIL.into()),
                Secret::new(password.unwrap_or_else(|| LOCAL_ADMIN_PASSWORD.into())),
            ))
        }
        _ => anyhow::bail!("ADMIN_EMAIL and ADMIN_PASSWORD must be set when APP_ENV=aws"),
    }
}

/// Prints, as JSON by function, the AWS calls each function's code makes in
/// the given Kafka setup: what the deploy rehearsal checks the roles against.
fn aws_calls(args: &[String]) -> anyhow::Result<()> {
    use shared::aws_access::{DeployedAuth, Deployment};
    let (mut msk, mut auth) = (None, None);
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let value = rest.next().map(String::as_str);
        match (arg.as_str(), value) {
            ("--kafka", Some("msk")) => msk = Some(true),
            ("--kafka", Some("self-managed")) => msk = Some(false),
            ("--auth", Some("iam")) => auth = Some(DeployedAuth::Iam),
            ("--auth", Some("scram")) => auth = Some(DeployedAuth::Scram),
            ("--auth", Some("tls")) => auth = Some(DeployedAuth::Tls),
            ("--auth", Some("plaintext")) => auth = Some(DeployedAuth::Plaintext),
            _ => anyhow::bail!("aws-calls takes --kafka msk|self-managed and --auth iam|scram|tls|plaintext"),
        }
    }
    let deployment = Deployment { msk: msk.context("--kafka is required")?, auth: auth.context("--auth is required")? };
    let functions = local_gateway::dispatch::HTTP_FUNCTIONS
        .iter()
        .chain(local_gateway::dispatch::KAFKA_FUNCTIONS)
        .chain(local_gateway::dispatch::SCHEDULED_FUNCTIONS)
        .chain(&["migrator"]);
    let mut calls = serde_json::Map::new();
    for function in functions {
        let access = local_gateway::dispatch::aws_access(function).context("a listed function has no AWS_ACCESS")?;
        calls.insert(function.to_string(), serde_json::to_value(access.calls(deployment))?);
    }
    println!("{}", serde_json::to_string_pretty(&calls)?);
    Ok(())
}

async fn serve(args: &[String]) -> anyhow::Result<()> {
    let mut port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3000);
    let mut template = local_gateway::default_template();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--port" => port = rest.next().context("--port needs a value")?.parse()?,
            "--template" => template = rest.next().context("--template needs a value")?.into(),
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    let state = Arc::new(State::from_env().await?);
    let text = std::fs::read_to_string(&template)?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?;
    println!("Serving template.yaml routes on http://{addr}");
    for route in local_gateway::routes::routes(&text)? {
        println!("  {:<7} {:<28} → {}", route.method.as_str(), route.path, route.function);
    }
    tokio::select! {
        result = local_gateway::start(&template, state, listener) => result,
        _ = tokio::signal::ctrl_c() => {
            println!("Stopping the gateway");
            Ok(())
        }
    }
}
