//! Bootstrap brokers from the MSK cluster ARN (GetBootstrapBrokers), once
//! per cold start, when `KAFKA_BROKERS` is not configured.

use aws_sdk_kafka::{operation::get_bootstrap_brokers::GetBootstrapBrokersOutput, Client};

/// How clients reach the brokers the cluster offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// SASL/SCRAM-512 over TLS (credentials from `KAFKA_SASL_USERNAME` / `_PASSWORD`).
    Scram,
    Tls,
    Plaintext,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Brokers {
    pub servers: String,
    pub listener: Listener,
}

/// Picks the listener to use: SCRAM when we have credentials, else TLS,
/// else plaintext. IAM-only clusters are refused with a clear error: the
/// producer does not sign SASL/OAUTHBEARER tokens yet.
pub fn choose(output: &GetBootstrapBrokersOutput, have_scram_credentials: bool) -> anyhow::Result<Brokers> {
    let offered = |value: Option<&str>| value.filter(|s| !s.is_empty()).map(str::to_owned);
    let scram = offered(output.bootstrap_broker_string_sasl_scram()).filter(|_| have_scram_credentials);
    if let Some(servers) = scram {
        return Ok(Brokers { servers, listener: Listener::Scram });
    }
    if let Some(servers) = offered(output.bootstrap_broker_string_tls()) {
        return Ok(Brokers { servers, listener: Listener::Tls });
    }
    if let Some(servers) = offered(output.bootstrap_broker_string()) {
        return Ok(Brokers { servers, listener: Listener::Plaintext });
    }
    if offered(output.bootstrap_broker_string_sasl_iam()).is_some() {
        anyhow::bail!("the MSK cluster only offers IAM authentication; enable SCRAM or TLS, or set KAFKA_BROKERS");
    }
    anyhow::bail!("the MSK cluster returned no bootstrap brokers")
}

pub async fn bootstrap_brokers(
    client: &Client,
    cluster_arn: &str,
    have_scram_credentials: bool,
) -> anyhow::Result<Brokers> {
    let output = client.get_bootstrap_brokers().cluster_arn(cluster_arn).send().await?;
    choose(&output, have_scram_credentials)
}

/// Resolves with the default AWS configuration (the function's role).
pub async fn resolve(cluster_arn: &str, have_scram_credentials: bool) -> anyhow::Result<Brokers> {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    bootstrap_brokers(&Client::new(&config), cluster_arn, have_scram_credentials).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_kafka::operation::get_bootstrap_brokers::GetBootstrapBrokersError;
    use aws_smithy_mocks::{mock, mock_client};

    const ARN: &str = "arn:aws:kafka:us-east-1:123456789012:cluster/ticketing/abcd-1";

    #[tokio::test]
    async fn resolves_the_tls_brokers_of_the_cluster() {
        let rule = mock!(Client::get_bootstrap_brokers)
            .match_requests(|req| req.cluster_arn() == Some(ARN))
            .then_output(|| {
                GetBootstrapBrokersOutput::builder()
                    .bootstrap_broker_string_tls("b-1.ticketing:9094,b-2.ticketing:9094")
                    .bootstrap_broker_string_sasl_iam("b-1.ticketing:9098")
                    .build()
            });
        let client = mock_client!(aws_sdk_kafka, [&rule]);
        let brokers = bootstrap_brokers(&client, ARN, false).await.unwrap();
        assert_eq!(
            brokers,
            Brokers { servers: "b-1.ticketing:9094,b-2.ticketing:9094".into(), listener: Listener::Tls }
        );
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn prefers_scram_when_credentials_are_configured() {
        for (have_credentials, expected) in [(true, Listener::Scram), (false, Listener::Tls)] {
            let rule = mock!(Client::get_bootstrap_brokers).then_output(|| {
                GetBootstrapBrokersOutput::builder()
                    .bootstrap_broker_string_tls("b-1:9094")
                    .bootstrap_broker_string_sasl_scram("b-1:9096")
                    .build()
            });
            let client = mock_client!(aws_sdk_kafka, [&rule]);
            assert_eq!(bootstrap_brokers(&client, ARN, have_credentials).await.unwrap().listener, expected);
        }
    }

    #[tokio::test]
    async fn an_iam_only_cluster_is_a_clear_error() {
        let rule = mock!(Client::get_bootstrap_brokers)
            .then_output(|| GetBootstrapBrokersOutput::builder().bootstrap_broker_string_sasl_iam("b-1:9098").build());
        let client = mock_client!(aws_sdk_kafka, [&rule]);
        let err = bootstrap_brokers(&client, ARN, false).await.unwrap_err();
        assert!(err.to_string().contains("IAM"), "{err}");
    }

    #[tokio::test]
    async fn an_api_error_is_reported() {
        let rule = mock!(Client::get_bootstrap_brokers).then_error(|| {
            GetBootstrapBrokersError::ForbiddenException(
                aws_sdk_kafka::types::error::ForbiddenException::builder().message("not allowed").build(),
            )
        });
        let client = mock_client!(aws_sdk_kafka, [&rule]);
        assert!(bootstrap_brokers(&client, ARN, false).await.is_err());
    }
}
