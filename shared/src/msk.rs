//! Bootstrap brokers from the MSK cluster ARN (GetBootstrapBrokers), once
//! per cold start, when `KAFKA_BROKERS` is not configured.

use aws_sdk_kafka::{operation::get_bootstrap_brokers::GetBootstrapBrokersOutput, Client};

use crate::config::KafkaAuth;

/// The IAM action behind [`bootstrap_brokers`], on the cluster's ARN.
pub const GET_BOOTSTRAP_BROKERS: &str = "kafka:GetBootstrapBrokers";

/// MSK has one listener (and port) per authentication mode; a client must
/// use the broker string of the mode it speaks, so we pick by `KAFKA_AUTH`
/// rather than guessing, and say which listener the cluster lacks.
pub fn choose(output: &GetBootstrapBrokersOutput, auth: &KafkaAuth) -> anyhow::Result<String> {
    let (offered, listener) = match auth {
        KafkaAuth::Plaintext => (output.bootstrap_broker_string(), "plaintext"),
        KafkaAuth::Tls => (output.bootstrap_broker_string_tls(), "TLS"),
        KafkaAuth::Scram { .. } => (output.bootstrap_broker_string_sasl_scram(), "SASL/SCRAM"),
        KafkaAuth::Iam { .. } => (output.bootstrap_broker_string_sasl_iam(), "IAM"),
    };
    match offered.filter(|servers| !servers.is_empty()) {
        Some(servers) => Ok(servers.to_owned()),
        None => anyhow::bail!("the MSK cluster offers no {listener} listener; enable it or change KAFKA_AUTH"),
    }
}

pub async fn bootstrap_brokers(client: &Client, cluster_arn: &str, auth: &KafkaAuth) -> anyhow::Result<String> {
    let output = client.get_bootstrap_brokers().cluster_arn(cluster_arn).send().await?;
    choose(&output, auth)
}

/// Resolves with the default AWS configuration (the function's role).
pub async fn resolve(cluster_arn: &str, auth: &KafkaAuth) -> anyhow::Result<String> {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    bootstrap_brokers(&Client::new(&config), cluster_arn, auth).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;
    use aws_sdk_kafka::operation::get_bootstrap_brokers::GetBootstrapBrokersError;
    use aws_smithy_mocks::{mock, mock_client};

    const ARN: &str = "arn:aws:kafka:us-east-1:123456789012:cluster/ticketing/abcd-1";

    fn every_listener() -> GetBootstrapBrokersOutput {
        GetBootstrapBrokersOutput::builder()
            .bootstrap_broker_string("b-1:9092")
            .bootstrap_broker_string_tls("b-1.ticketing:9094,b-2.ticketing:9094")
            .bootstrap_broker_string_sasl_scram("b-1:9096")
            .bootstrap_broker_string_sasl_iam("b-1:9098")
            .build()
    }

    #[tokio::test]
    async fn resolves_the_brokers_of_the_configured_listener() {
        let scram = KafkaAuth::Scram { username: "u".into(), password: Secret::new("p") };
        let iam = KafkaAuth::Iam { region: "us-east-1".into() };
        for (auth, expected) in [
            (KafkaAuth::Tls, "b-1.ticketing:9094,b-2.ticketing:9094"),
            (scram, "b-1:9096"),
            (iam, "b-1:9098"),
            (KafkaAuth::Plaintext, "b-1:9092"),
        ] {
            let rule = mock!(Client::get_bootstrap_brokers)
                .match_requests(|req| req.cluster_arn() == Some(ARN))
                .then_output(every_listener);
            let client = mock_client!(aws_sdk_kafka, [&rule]);
            assert_eq!(bootstrap_brokers(&client, ARN, &auth).await.unwrap(), expected);
            assert_eq!(rule.num_calls(), 1);
        }
    }

    #[tokio::test]
    async fn a_missing_listener_is_a_clear_error() {
        let rule = mock!(Client::get_bootstrap_brokers)
            .then_output(|| GetBootstrapBrokersOutput::builder().bootstrap_broker_string_sasl_iam("b-1:9098").build());
        let client = mock_client!(aws_sdk_kafka, [&rule]);
        let err = bootstrap_brokers(&client, ARN, &KafkaAuth::Tls).await.unwrap_err();
        assert!(err.to_string().contains("no TLS listener"), "{err}");
    }

    #[tokio::test]
    async fn an_api_error_is_reported() {
        let rule = mock!(Client::get_bootstrap_brokers).then_error(|| {
            GetBootstrapBrokersError::ForbiddenException(
                aws_sdk_kafka::types::error::ForbiddenException::builder().message("not allowed").build(),
            )
        });
        let client = mock_client!(aws_sdk_kafka, [&rule]);
        assert!(bootstrap_brokers(&client, ARN, &KafkaAuth::Tls).await.is_err());
    }
}
