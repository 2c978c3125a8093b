//! Secrets read from Secrets Manager at cold start, and again every
//! `SECRETS_TTL_SECS` (5 minutes by default) and when a token names a key
//! this instance has not read (see `State`).
//!
//! On AWS the template passes each secret's ARN (`<SETTING>_SECRET_ARN`)
//! instead of its value, so no secret sits in plaintext in the function's
//! configuration and a rotated secret reaches every instance without a
//! redeploy: new ones at cold start, warm ones within the TTL. For the keys
//! that must overlap a rotation (the JWT key, the CloudFront origin secret)
//! the secret's AWSPREVIOUS version is read too, as `<SETTING>_PREVIOUS`.
//! Locally nothing is set and the plain settings (or their local defaults)
//! are used as before.

use std::collections::HashMap;

use aws_sdk_secretsmanager::Client;

use crate::aws_access::AwsCall;

/// The IAM action behind [`read`]; every function's role must allow it on
/// each secret the function reads (see `aws_access`).
pub const GET_SECRET_VALUE: &str = "secretsmanager:GetSecretValue";

/// Settings whose value is a whole secret string: (setting, variable holding
/// the secret's ARN). Every function that builds the shared `State` reads
/// all five: the Postgres, Mongo and Redis URLs (an ElastiCache AUTH token
/// sits in the last), the JWT key, and the value CloudFront adds to API
/// requests (`X-Origin-Verify`, see `http::client_ip`; any handler may key
/// a limit on the caller's address).
pub const STORE_SECRETS: [(&str, &str); 5] = [
    ("DATABASE_URL", "DATABASE_URL_SECRET_ARN"),
    ("MONGO_URL", "MONGO_URL_SECRET_ARN"),
    ("REDIS_URL", "REDIS_URL_SECRET_ARN"),
    ("JWT_SECRET", "JWT_SECRET_ARN"),
    ("ORIGIN_VERIFY_SECRET", "ORIGIN_VERIFY_SECRET_ARN"),
];

/// Settings whose AWSPREVIOUS version is read too, as `<SETTING>_PREVIOUS`:
/// tokens signed, and CloudFront configured, before a rotation keep working
/// until they expire or the next deploy.
const OVERLAPPING: [&str; 2] = ["JWT_SECRET", "ORIGIN_VERIFY_SECRET"];

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
    let overlapping: Vec<_> = reads.iter().filter(|(setting, _)| OVERLAPPING.contains(setting)).collect();
    let previous = futures::future::try_join_all(overlapping.iter().map(|(_, arn)| read_previous(client, arn))).await?;
    for ((setting, _), value) in overlapping.into_iter().zip(previous) {
        match value {
            Some(value) => vars.insert(format!("{setting}_PREVIOUS"), value),
            None => vars.remove(&format!("{setting}_PREVIOUS")),
        };
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

/// The secrets of `env` (a function's environment, with the ARNs) as they
/// are now, for an instance that read them a while ago: only the settings
/// given by ARN come back. Nothing is called when none is.
pub async fn reread(env: &HashMap<String, String>) -> anyhow::Result<HashMap<String, String>> {
    let mut vars: HashMap<String, String> =
        env.iter().filter(|(name, _)| name.ends_with("_ARN")).map(|(k, v)| (k.clone(), v.clone())).collect();
    if vars.is_empty() {
        return Ok(vars);
    }
    resolve(&mut vars).await?;
    vars.retain(|name, _| !name.ends_with("_ARN"));
    Ok(vars)
}

/// When a warm instance reads its secrets again: after `ttl`, or sooner when
/// a request shows it is behind (a token signed with a key it does not
/// know), though not more than once per [`FORCED_REFRESH_GAP`], so forged
/// tokens cannot turn into a flood of Secrets Manager calls.
pub struct Refresh {
    env: HashMap<String, String>,
    ttl: std::time::Duration,
    read_at: std::sync::Mutex<std::time::Instant>,
    forced_at: std::sync::Mutex<Option<std::time::Instant>>,
    busy: tokio::sync::Mutex<()>,
}

pub const FORCED_REFRESH_GAP: std::time::Duration = std::time::Duration::from_secs(30);

impl Refresh {
    /// `None` when the environment names no secret by ARN (locally): there
    /// is nothing that could change.
    pub fn new(env: HashMap<String, String>, ttl: std::time::Duration) -> Option<Refresh> {
        env.keys().any(|name| name.ends_with("_SECRET_ARN") || name == "JWT_SECRET_ARN").then(|| Refresh {
            env,
            ttl,
            read_at: std::sync::Mutex::new(std::time::Instant::now()),
            forced_at: std::sync::Mutex::default(),
            busy: tokio::sync::Mutex::default(),
        })
    }

    fn read_at(&self) -> std::time::Instant {
        *self.read_at.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The secrets as they are now if a re-read is due (`forced`: a request
    /// suggested this instance is behind); `None` if not due, or if another
    /// request of this instance just read them.
    pub async fn run(&self, forced: bool) -> anyhow::Result<Option<HashMap<String, String>>> {
        let now = std::time::Instant::now();
        let due = |read_at: std::time::Instant| now.duration_since(read_at) >= self.ttl;
        let may_force = || {
            let mut forced_at = self.forced_at.lock().unwrap_or_else(|p| p.into_inner());
            let allowed = forced_at.is_none_or(|at| now.duration_since(at) >= FORCED_REFRESH_GAP);
            if allowed {
                *forced_at = Some(now);
            }
            allowed
        };
        if !(due(self.read_at()) || forced && may_force()) {
            return Ok(None);
        }
        let _one_at_a_time = self.busy.lock().await;
        if self.read_at() > now {
            return Ok(None);
        }
        let vars = reread(&self.env).await?;
        *self.read_at.lock().unwrap_or_else(|p| p.into_inner()) = std::time::Instant::now();
        Ok(Some(vars))
    }
}

/// The version before the last rotation, if the secret was ever rotated.
async fn read_previous(client: &Client, arn: &str) -> anyhow::Result<Option<String>> {
    use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
    match client.get_secret_value().secret_id(arn).version_stage("AWSPREVIOUS").send().await {
        Ok(output) => Ok(output.secret_string),
        Err(err) => match err.into_service_error() {
            // Never rotated: there is no previous version.
            GetSecretValueError::ResourceNotFoundException(_) => Ok(None),
            err => Err(anyhow::Error::new(err).context(format!("reading the previous version of {arn}"))),
        },
    }
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
            .match_requests(move |req| req.secret_id() == Some(arn) && req.version_stage().is_none())
            .then_output(move || GetSecretValueOutput::builder().secret_string(value).build())
    }

    fn previous(arn: &'static str, value: Option<&'static str>) -> aws_smithy_mocks::Rule {
        let rule = mock!(Client::get_secret_value)
            .match_requests(move |req| req.secret_id() == Some(arn) && req.version_stage() == Some("AWSPREVIOUS"));
        match value {
            Some(value) => rule.then_output(move || GetSecretValueOutput::builder().secret_string(value).build()),
            None => rule.then_error(|| {
                GetSecretValueError::ResourceNotFoundException(
                    aws_sdk_secretsmanager::types::error::ResourceNotFoundException::builder()
                        .message("no AWSPREVIOUS")
                        .build(),
                )
            }),
        }
    }

    #[tokio::test]
    async fn each_secret_arn_becomes_its_setting() {
        let rules = [
            secret("arn:db", "postgres://proxy/db?sslmode=verify-full"),
            secret("arn:mongo", "mongodb://docdb"),
            secret("arn:redis", "rediss://:auth-token@cache:6379"),
            secret("arn:jwt", "a-secret-of-at-least-thirty-two-bytes!!"),
            previous("arn:jwt", None),
            secret("arn:origin", "origin-value-of-at-least-thirty-two-bytes"),
            previous("arn:origin", None),
            secret("arn:scram", r#"{"username":"u","password":"p"}"#),
        ];
        let client = mock_client!(aws_sdk_secretsmanager, RuleMode::MatchAny, &rules);
        let mut vars = vars(&[
            ("DATABASE_URL_SECRET_ARN", "arn:db"),
            ("MONGO_URL_SECRET_ARN", "arn:mongo"),
            ("REDIS_URL_SECRET_ARN", "arn:redis"),
            ("JWT_SECRET_ARN", "arn:jwt"),
            ("ORIGIN_VERIFY_SECRET_ARN", "arn:origin"),
        ]);
        let reads = STORE_SECRETS.iter().map(|(s, a)| (*s, vars[*a].clone())).collect();
        resolve_with(&client, &mut vars, reads, Some("arn:scram".into())).await.unwrap();
        assert_eq!(vars["DATABASE_URL"], "postgres://proxy/db?sslmode=verify-full");
        assert_eq!(vars["MONGO_URL"], "mongodb://docdb");
        assert_eq!(vars["REDIS_URL"], "rediss://:auth-token@cache:6379");
        assert_eq!(vars["JWT_SECRET"], "a-secret-of-at-least-thirty-two-bytes!!");
        assert!(!vars.contains_key("JWT_SECRET_PREVIOUS"), "a secret never rotated has no previous version");
        assert_eq!((vars["KAFKA_SASL_USERNAME"].as_str(), vars["KAFKA_SASL_PASSWORD"].as_str()), ("u", "p"));
        assert!(rules.iter().all(|rule| rule.num_calls() == 1));
    }

    #[tokio::test]
    async fn after_a_rotation_the_previous_jwt_and_origin_values_are_read_too() {
        let rules = [
            secret("arn:jwt", "the-new-key-of-at-least-thirty-two-bytes"),
            previous("arn:jwt", Some("the-old-key-of-at-least-thirty-two-bytes")),
            secret("arn:origin", "new-origin-value-of-at-least-32-bytes!!"),
            previous("arn:origin", Some("old-origin-value-of-at-least-32-bytes!!")),
            secret("arn:db", "postgres://proxy/db?sslmode=verify-full"),
        ];
        let client = mock_client!(aws_sdk_secretsmanager, RuleMode::MatchAny, &rules);
        let reads = vec![
            ("JWT_SECRET", "arn:jwt".to_owned()),
            ("ORIGIN_VERIFY_SECRET", "arn:origin".to_owned()),
            ("DATABASE_URL", "arn:db".to_owned()),
        ];
        let mut vars = HashMap::new();
        resolve_with(&client, &mut vars, reads, None).await.unwrap();
        assert_eq!(vars["JWT_SECRET"], "the-new-key-of-at-least-thirty-two-bytes");
        assert_eq!(vars["JWT_SECRET_PREVIOUS"], "the-old-key-of-at-least-thirty-two-bytes");
        assert_eq!(vars["ORIGIN_VERIFY_SECRET_PREVIOUS"], "old-origin-value-of-at-least-32-bytes!!");
        assert!(!vars.contains_key("DATABASE_URL_PREVIOUS"), "only the overlapping keys keep a previous value");
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
