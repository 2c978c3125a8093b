//! Runs inside the VPC on every deploy (a CloudFormation custom resource)
//! or when invoked by CI: PostgreSQL migrations, Mongo indexes, Kafka
//! topics. Request handlers never migrate.

use lambda_http::{Error, LambdaEvent};
use serde::Deserialize;
use serde_json::{json, Value};
use shared::aws_access::{Access, KafkaUse};
use shared::State;

/// The AWS calls this function's code makes; its role in template.yaml
/// allows these and no more (checked by the deploy rehearsal).
pub const AWS_ACCESS: Access = Access::with_kafka(KafkaUse::CreatesAllTopics);

/// The fields of a CloudFormation custom resource request we use.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomResourceRequest {
    pub request_type: String,
    #[serde(rename = "ResponseURL")]
    pub response_url: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    pub physical_resource_id: Option<String>,
}

pub async fn migrate(state: &State) -> anyhow::Result<Value> {
    shared::setup::migrate(state).await?;
    state.events().create_indexes().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let topics = shared::setup::create_topics(&state.config).await?;
    Ok(json!({ "migrations": shared::setup::MIGRATOR.iter().count(), "topics": topics.len() }))
}

pub async fn handle(state: &State, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let Ok(request) = serde_json::from_value::<CustomResourceRequest>(event.payload.clone()) else {
        // Invoked directly (CI, an operator): migrate and report.
        return Ok(migrate(state).await?);
    };
    // Deleting the stack never drops data.
    let outcome = match request.request_type.as_str() {
        "Delete" => Ok(json!({ "skipped": "delete" })),
        _ => migrate(state).await,
    };
    let (status, reason, data) = match &outcome {
        Ok(data) => ("SUCCESS", "migrated".to_owned(), data.clone()),
        Err(err) => {
            tracing::error!(error.cause_chain = ?err, "migration failed");
            ("FAILED", format!("{err:#}"), json!({}))
        }
    };
    let response = json!({
        "Status": status,
        "Reason": reason,
        "PhysicalResourceId": request.physical_resource_id.clone().unwrap_or_else(|| "ticketing-migrations".to_owned()),
        "StackId": request.stack_id,
        "RequestId": request.request_id,
        "LogicalResourceId": request.logical_resource_id,
        "Data": data,
    });
    // CloudFormation waits for this PUT; without it the stack hangs for an hour.
    reqwest::Client::new().put(&request.response_url).json(&response).send().await?.error_for_status()?;
    Ok(response)
}
