//! The AWS API calls each function's own code makes, as IAM names them.
//!
//! Each function crate declares its [`Access`] next to its handler
//! (`AWS_ACCESS` in its lib.rs); the action names come from the modules that
//! make the calls (`secrets`, `msk`, `kafka::iam`). The deploy rehearsal
//! (tests/aws/rehearsal.py) reads `local-gateway aws-calls` and checks that
//! each deployed role allows every one of these calls and nothing more.
//! What the Lambda service itself does with the role (event source mappings,
//! logs, tracing, network interfaces) is the rehearsal's side of the check.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::kafka;

/// One call: an IAM action on a resource. Resources are templates the
/// rehearsal fills from the deployed function: `${env:NAME}` is the value of
/// the function's variable NAME, `${msk:topic}/<name>` and `${msk:cluster}`
/// the MSK ARNs of the cluster in `MSK_CLUSTER_ARN`.
///
/// Where the IAM action depends on what the call passes (SES v2 SendEmail
/// is `ses:SendRawEmail` with raw content, `ses:SendEmail` otherwise, and is
/// also checked against the configuration set), `action` is the SDK
/// operation (`sesv2:SendEmail`) and `arguments` what the code passes; the
/// rehearsal knows which IAM actions and resources such a call needs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct AwsCall {
    pub action: &'static str,
    pub resource: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub arguments: BTreeMap<&'static str, String>,
}

impl AwsCall {
    pub fn new(action: &'static str, resource: impl Into<String>) -> AwsCall {
        AwsCall { action, resource: resource.into(), arguments: BTreeMap::new() }
    }

    /// An SDK operation with the arguments that decide its IAM actions.
    pub fn operation(
        operation: &'static str,
        resource: impl Into<String>,
        arguments: impl IntoIterator<Item = (&'static str, String)>,
    ) -> AwsCall {
        AwsCall { action: operation, resource: resource.into(), arguments: arguments.into_iter().collect() }
    }
}

/// What a function's own Kafka clients do (its event source mapping, run by
/// the Lambda service, is not its code).
#[derive(Debug, Clone, Copy)]
pub enum KafkaUse {
    /// Produces to `topics`, and to the dead-letter topic of each of
    /// `dead_letters_of` (the topics a consumer reads).
    Writes { topics: &'static [&'static str], dead_letters_of: &'static [&'static str] },
    /// Reads the metadata of every topic (the health check).
    DescribesAllTopics,
    /// Creates every topic (the migrator).
    CreatesAllTopics,
}

#[derive(Debug, Clone, Copy)]
pub struct Access {
    /// Builds the shared `State`, so reads the store secrets at cold start.
    pub builds_state: bool,
    pub kafka: Option<KafkaUse>,
    /// Signs or checks e-tickets, so reads the ticket key at cold start.
    pub reads_ticket_key: bool,
    /// Sends e-mail through SES, as the sender identity `MAIL_IDENTITY_ARN`.
    pub sends_mail: bool,
}

impl Access {
    /// A function that touches nothing of AWS's (it serves what it carries).
    pub const NONE: Access = Access { builds_state: false, kafka: None, reads_ticket_key: false, sends_mail: false };
    /// A function that uses the stores and no Kafka.
    pub const STORES: Access = Access { builds_state: true, kafka: None, reads_ticket_key: false, sends_mail: false };
    /// The stores and the e-ticket key.
    pub const TICKETS: Access = Access { builds_state: true, kafka: None, reads_ticket_key: true, sends_mail: false };

    pub const fn with_kafka(kafka: KafkaUse) -> Access {
        Access { builds_state: true, kafka: Some(kafka), reads_ticket_key: false, sends_mail: false }
    }

    /// A request function that publishes `topics`.
    pub const fn producer(topics: &'static [&'static str]) -> Access {
        Access::with_kafka(KafkaUse::Writes { topics, dead_letters_of: &[] })
    }

    /// A consumer of `consumes` that answers on `answers` and dead-letters
    /// what it cannot read.
    pub const fn consumer(consumes: &'static [&'static str], answers: &'static [&'static str]) -> Access {
        Access::with_kafka(KafkaUse::Writes { topics: answers, dead_letters_of: consumes })
    }

    /// The same, also reading the e-ticket key.
    pub const fn reading_ticket_key(self) -> Access {
        Access { reads_ticket_key: true, ..self }
    }

    /// The same, also sending e-mail through SES.
    pub const fn sending_mail(self) -> Access {
        Access { sends_mail: true, ..self }
    }
}

/// The deployment's Kafka setup, which decides what calls a Kafka client makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deployment {
    /// Brokers come from an MSK cluster (GetBootstrapBrokers), not a list.
    pub msk: bool,
    pub auth: DeployedAuth,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeployedAuth {
    Iam,
    Scram,
    Tls,
    Plaintext,
}

impl Access {
    /// Every call the function's code makes in `deployment`, sorted.
    pub fn calls(&self, deployment: Deployment) -> Vec<AwsCall> {
        let mut calls = Vec::new();
        if self.builds_state {
            let scram = deployment.auth == DeployedAuth::Scram;
            calls.extend(crate::secrets::calls(self.kafka.is_some(), scram, self.reads_ticket_key));
        }
        if self.sends_mail {
            calls.push(crate::mail::ses_send_call());
        }
        if let Some(kafka) = self.kafka {
            if deployment.msk {
                calls.push(AwsCall::new(crate::msk::GET_BOOTSTRAP_BROKERS, "${env:MSK_CLUSTER_ARN}"));
            }
            if deployment.msk && deployment.auth == DeployedAuth::Iam {
                calls.extend(kafka_cluster_calls(kafka));
            }
        }
        calls.sort();
        calls.dedup();
        calls
    }
}

/// MSK IAM access control: what each kind of client is checked for.
fn kafka_cluster_calls(kafka: KafkaUse) -> Vec<AwsCall> {
    let cluster = "${msk:cluster}";
    let topic = |name: &str| format!("${{msk:topic}}/{name}");
    let every_topic = || kafka::TOPICS.iter().flat_map(|t| [t.to_string(), kafka::dead_letter_topic(t)]);
    let mut calls = vec![AwsCall::new(kafka::iam::CONNECT, cluster)];
    match kafka {
        KafkaUse::Writes { topics, dead_letters_of } => {
            calls.push(AwsCall::new(kafka::iam::WRITE_DATA_IDEMPOTENTLY, cluster));
            let written =
                topics.iter().map(|t| t.to_string()).chain(dead_letters_of.iter().map(|t| kafka::dead_letter_topic(t)));
            for name in written {
                calls.push(AwsCall::new(kafka::iam::WRITE_DATA, topic(&name)));
                calls.push(AwsCall::new(kafka::iam::DESCRIBE_TOPIC, topic(&name)));
            }
        }
        KafkaUse::DescribesAllTopics => {
            calls.extend(every_topic().map(|name| AwsCall::new(kafka::iam::DESCRIBE_TOPIC, topic(&name))));
        }
        KafkaUse::CreatesAllTopics => {
            for name in every_topic() {
                calls.push(AwsCall::new(kafka::iam::CREATE_TOPIC, topic(&name)));
                calls.push(AwsCall::new(kafka::iam::DESCRIBE_TOPIC, topic(&name)));
            }
        }
    }
    calls
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSK_IAM: Deployment = Deployment { msk: true, auth: DeployedAuth::Iam };
    const SELF_MANAGED_SCRAM: Deployment = Deployment { msk: false, auth: DeployedAuth::Scram };

    fn actions(calls: &[AwsCall]) -> Vec<(&str, &str)> {
        calls.iter().map(|c| (c.action, c.resource.as_str())).collect()
    }

    #[test]
    fn a_function_without_kafka_reads_only_the_store_secrets() {
        for deployment in [MSK_IAM, SELF_MANAGED_SCRAM] {
            assert_eq!(
                actions(&Access::STORES.calls(deployment)),
                [
                    ("secretsmanager:GetSecretValue", "${env:DATABASE_URL_SECRET_ARN}"),
                    ("secretsmanager:GetSecretValue", "${env:JWT_SECRET_ARN}"),
                    ("secretsmanager:GetSecretValue", "${env:MONGO_URL_SECRET_ARN}"),
                    ("secretsmanager:GetSecretValue", "${env:ORIGIN_VERIFY_SECRET_ARN}"),
                    ("secretsmanager:GetSecretValue", "${env:REDIS_URL_SECRET_ARN}"),
                ]
            );
        }
        assert!(Access::NONE.calls(MSK_IAM).is_empty());
    }

    #[test]
    fn only_the_ticket_functions_read_the_ticket_key() {
        let reads_key = |access: Access| access.calls(MSK_IAM).iter().any(|c| c.resource == "${env:TICKET_SECRET_ARN}");
        assert!(reads_key(Access::TICKETS));
        assert!(!reads_key(Access::STORES) && !reads_key(Access::producer(&["event.created"])));
    }

    #[test]
    fn a_producer_on_msk_iam_resolves_brokers_and_writes_only_its_topics_idempotently() {
        let calls = Access::producer(&["event.created"]).calls(MSK_IAM);
        let kafka: Vec<_> = actions(&calls).into_iter().filter(|(a, _)| a.starts_with("kafka")).collect();
        assert_eq!(
            kafka,
            [
                ("kafka-cluster:Connect", "${msk:cluster}"),
                ("kafka-cluster:DescribeTopic", "${msk:topic}/event.created"),
                ("kafka-cluster:WriteData", "${msk:topic}/event.created"),
                ("kafka-cluster:WriteDataIdempotently", "${msk:cluster}"),
                ("kafka:GetBootstrapBrokers", "${env:MSK_CLUSTER_ARN}"),
            ]
        );
    }

    #[test]
    fn a_consumer_writes_its_answers_and_the_dead_letter_topics_of_what_it_reads() {
        let calls = Access::consumer(&["booking.requested"], &["seat.reserved"]).calls(MSK_IAM);
        let written: Vec<_> =
            calls.iter().filter(|c| c.action == kafka::iam::WRITE_DATA).map(|c| c.resource.as_str()).collect();
        assert_eq!(written, ["${msk:topic}/booking.requested.dlq", "${msk:topic}/seat.reserved"]);
    }

    #[test]
    fn on_self_managed_kafka_a_producer_reads_its_scram_secret_and_calls_no_kafka_api() {
        let calls = Access::producer(&["booking.requested"]).calls(SELF_MANAGED_SCRAM);
        assert!(calls.iter().all(|c| c.action == "secretsmanager:GetSecretValue"), "{calls:?}");
        assert!(calls.iter().any(|c| c.resource == "${env:KAFKA_SCRAM_SECRET_ARN}"));
    }

    #[test]
    fn a_mail_sender_declares_the_ses_operation_with_the_arguments_that_decide_its_iam_actions() {
        let calls = Access::STORES.sending_mail().calls(MSK_IAM);
        let send = calls.iter().find(|c| c.action == "sesv2:SendEmail").expect("the SES call");
        assert_eq!(send.arguments.get("Content").map(String::as_str), Some("Raw"));
        assert_eq!(
            send.arguments.get("ConfigurationSetName").map(String::as_str),
            Some("${env:MAIL_CONFIGURATION_SET}")
        );
        let json = serde_json::to_value(send).unwrap();
        assert_eq!(json["arguments"]["Content"], "Raw", "{json}");
        // Calls whose action is their IAM action carry no arguments.
        assert!(serde_json::to_value(&calls[0]).unwrap().get("arguments").is_none());
    }

    #[test]
    fn the_migrator_creates_and_the_health_check_describes_every_topic_and_dead_letter_topic() {
        let created = Access::with_kafka(KafkaUse::CreatesAllTopics).calls(MSK_IAM);
        let described = Access::with_kafka(KafkaUse::DescribesAllTopics).calls(MSK_IAM);
        let count = |calls: &[AwsCall], action| calls.iter().filter(|c| c.action == action).count();
        assert_eq!(count(&created, kafka::iam::CREATE_TOPIC), 2 * kafka::TOPICS.len());
        assert_eq!(count(&described, kafka::iam::DESCRIBE_TOPIC), 2 * kafka::TOPICS.len());
        assert_eq!(count(&described, kafka::iam::CREATE_TOPIC), 0);
    }
}
