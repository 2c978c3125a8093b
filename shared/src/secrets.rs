//! Secrets read from Secrets Manager once per cold start.
//!
//! On AWS the template passes each secret's ARN (`<SETTING>_SECRET_ARN`)
//! instead of its value, so no secret sits in plaintext in the function's
//! configuration and a rotated secret reaches every new instance without a
//! redeploy. Locally nothing is set and the plain settings (or their local
//! defaults) are used as before.

use std::collections::HashMap;

use aws_sdk_secretsmanager::Client;

use crate::aws_access::AwsCall;

/// The IAM action behind [`read`]; every function's role must allow it on
/// each secret the function reads (see `aws_access`).
pub const GET_SECRET_VALUE: &str = "secretsmanager:GetSecretValue";

/// Settings whose value is a whole secret string: (setting, variable holding
/// the secret's ARN). Every function that builds the shared `State` needs
/// all three: the Postgres and Mongo URLs and the JWT key.
pub const STORE_SECRETS: [(&str, &str); 3] = [
    ("DATABASE_URL", "DATABASE_URL_SECRET_ARN"),
    ("MONGO_URL", "MONGO_URL_SECRET_ARN"),
    ("JWT_SECRET", "JWT_SECRET_ARN"),
];

/// Read only where the template gives the function its ARN: the e-ticket
/// signing key (the ticket and check-in functions).
pub const TICKET_SECRET: (&str, &str) = ("TICKET_SECRET", "TICKET_SECRET_ARN");

/// A JSON secret `{"username", "password"}` for SASL/SCRAM (the format MSK
/// requires of its SCRAM secrets), read only by functions with Kafka clients.
pub const KAFKA_SCRAM_SECRET: &str = "KAFKA_SCRAM_SECRET_ARN";

/// The secrets `resolve` reads for a function, as IAM calls: one per
/// variable, the resource being the ARN the variable holds at run time.
pub fn calls(uses_kafka: bool, scram: bool, tickets: bool) -> Vec<AwsCall> {
    let mut arns: Vec<&str> = STORE_SECRETS.iter().map(|(_, arn)| *arn).collect();
    if tickets {
        arns.push(TICKET_SECRET.1);
    }
    if uses_kafka && scram {
        arns.push(KAFKA_SCRAM_SECRET);
    }
    arns.into_iter().map(|arn| AwsCall::new(GET_SECRET_VALUE, format!("${{env:{arn}}}"))).collect()
}

/// Replaces every `<SETTING>_SECRET_ARN` in `vars` by the setting itself,
/// read from Secrets Manager (all reads at once). A setting given both ways
/// is refused: which one wins would be a guess.
pub async fn resolve(vars: &mut HashMap<String, String>) -> anyhow::Result<()> {
    let wanted = |arn_var: &str| vars.get(arn_var).map(|v| v.trim()).filter(|v| !v.is_empty()).map(str::to_owned);
    let mut reads = Vec::new();
    for (setting, arn_var) in STORE_SECRETS.into_iter().chain([TICKET_SECRET]) {
        if let Some(arn) = wanted(arn_var) {
            if vars.get(setting).is_some_and(|v| !v.trim().is_empty()) {
                anyhow::bail!("{setting} and {arn_var} are both set; set one");
            }
            reads.push((setting, arn));
        }
    }
    let scram = wanted(KAFKA_SCRAM_SECRET);
    if scram.is_some() && vars.contains_key("KAFKA_SASL_PASSWORD") {
        anyhow::bail!("KAFKA_SASL_PASSWORD and {KAFKA_SCRAM_SECRET} are both set; set one");
    }
    if reads.is_empty() && scram.is_none() {
        return Ok(());
    }
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    resolve_with(&Client::new(&config), vars, reads, scram).await
}

async fn resolve_with(
    client: &Client,
    vars: &mut HashMap<String, String>,
    reads: Vec<(&'static str, String)>,
    scram: Option<String>,
) -> anyhow::Result<()> {
    let plain = futures::future::try_join_all(reads.iter().map(|(_, arn)| read(client, arn))).await?;
    for ((setting, _), value) in reads.iter().zip(plain) {
        vars.insert((*setting).to_owned(), value);
    }
    if let Some(arn) = scram {
        #[derive(serde::Deserialize)]
        struct Scram {
            username: String,
            password: String,
        }
        let Scram { username, password } = serde_json::from_str(&read(client, &arn).await?)
            .map_err(|_| anyhow::anyhow!("{KAFKA_SCRAM_SECRET} must be a JSON object with username and password"))?;
        vars.insert("KAFKA_SASL_USERNAME".into(), username);
        vars.insert("KAFKA_SASL_PASSWORD".into(), password);
    }
    Ok(())
}

async fn read(client: &Client, arn: &str) -> anyhow::Result<String> {
    let output = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| anyhow::Error::new(e.into_service_error()).context(format!("reading secret {arn}")))?;
    output.secret_string.ok_or_else(|| anyhow::anyhow!("secret {arn} has no string value"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_secretsmanager::operation::get_secret_value::{GetSecretValueError, GetSecretValueOutput};
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn secret(arn: &'static str, value: &'static str) -> aws_smithy_mocks::Rule {
        mock!(Client::get_secret_value)
            .match_requests(move |req| req.secret_id() == Some(arn))
            .then_output(move || GetSecretValueOutput::builder().secret_string(value).build())
    }

    #[tokio::test]
    async fn each_secret_arn_becomes_its_setting() {
        let rules = [
            secret("arn:db", "postgres://proxy/db?sslmode=verify-full"),
            secret("arn:mongo", "mongodb://docdb"),
            secret("arn:jwt", "a-secret-of-at-least-thirty-two-bytes!!"),
            secret("arn:scram", r#"{"username":"u","password":"p"}"#),
        ];
        let client = mock_client!(aws_sdk_secretsmanager, RuleMode::MatchAny, &rules);
        let mut vars = vars(&[
            ("DATABASE_URL_SECRET_ARN", "arn:db"),
            ("MONGO_URL_SECRET_ARN", "arn:mongo"),
            ("JWT_SECRET_ARN", "arn:jwt"),
        ]);
        let reads = STORE_SECRETS.iter().map(|(s, a)| (*s, vars[*a].clone())).collect();
        resolve_with(&client, &mut vars, reads, Some("arn:scram".into())).await.unwrap();
        assert_eq!(vars["DATABASE_URL"], "postgres://proxy/db?sslmode=verify-full");
        assert_eq!(vars["MONGO_URL"], "mongodb://docdb");
        assert_eq!(vars["JWT_SECRET"], "a-secret-of-at-least-thirty-two-bytes!!");
        assert_eq!((vars["KAFKA_SASL_USERNAME"].as_str(), vars["KAFKA_SASL_PASSWORD"].as_str()), ("u", "p"));
        assert!(rules.iter().all(|rule| rule.num_calls() == 1));
    }

    #[tokio::test]
    async fn a_setting_given_both_ways_is_refused() {
        let mut vars = vars(&[("DATABASE_URL", "postgres://x"), ("DATABASE_URL_SECRET_ARN", "arn:db")]);
        let err = resolve(&mut vars).await.unwrap_err();
        assert!(err.to_string().contains("both set"), "{err}");
    }

    #[tokio::test]
    async fn nothing_to_read_makes_no_call() {
        let mut vars = vars(&[("DATABASE_URL", "postgres://x")]);
        resolve(&mut vars).await.unwrap();
        assert_eq!(vars.len(), 1);
    }

    #[tokio::test]
    async fn a_denied_read_names_the_secret_and_a_bad_scram_secret_is_explained() {
        let denied = mock!(Client::get_secret_value).then_error(|| {
            GetSecretValueError::ResourceNotFoundException(
                aws_sdk_secretsmanager::types::error::ResourceNotFoundException::builder().message("gone").build(),
            )
        });
        let client = mock_client!(aws_sdk_secretsmanager, [&denied]);
        let err =
            resolve_with(&client, &mut HashMap::new(), vec![("JWT_SECRET", "arn:jwt".into())], None).await.unwrap_err();
        assert!(format!("{err:#}").contains("arn:jwt"), "{err:#}");

        let not_json = secret("arn:scram", "user:pass");
        let client = mock_client!(aws_sdk_secretsmanager, [&not_json]);
        let err = resolve_with(&client, &mut HashMap::new(), vec![], Some("arn:scram".into())).await.unwrap_err();
        assert!(err.to_string().contains("JSON object with username and password"), "{err}");
    }
}
