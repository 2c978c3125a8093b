//! Tokens and passwords.
//!
//! JWTs are HS256 only: the validator pins the algorithm, so `alg: none`,
//! RS/HS confusion and tokens signed with another key are all a 401.
//! Passwords are hashed with argon2id; the cost comes from configuration so
//! production can use OWASP's parameters while tests stay fast.

use std::{
    sync::{Arc, OnceLock, RwLock},
    time::Duration,
};

use argon2::{
    password_hash::SaltString, Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version,
};
use chrono::Utc;
use jsonwebtoken::{decode, encode, DecodingKey, EncodingKey, Header, Validation};
use lambda_http::Request;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    config::{PasswordCost, Secret},
    domain::user::{Role, Tier},
    error::ApiError,
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    pub email: String,
    pub role: Role,
    pub tier: Tier,
    pub iat: i64,
    pub exp: i64,
    /// The deployment that issued the token, and the API it is for: both are
    /// checked, so a token from a deployment that shares the secret (say,
    /// staging) is refused.
    pub iss: String,
    pub aud: String,
    /// The account's token version when the token was issued: a role change
    /// or a logout raises the stored one, and every older token is refused
    /// (see `services::sessions`). Tokens from before versions count as 0.
    #[serde(default)]
    pub ver: i64,
}

impl Claims {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// HS256 with the algorithm pinned, one issuer and one audience: the codec
/// behind login tokens, admission passes and tickets. Each kind has an
/// audience of its own, so none passes for another even under one key.
///
/// Tokens name their key in the header (`kid`, a hash of the key, never the
/// key). A codec knows its current key and, after a rotation, the one
/// before it: tokens signed with either verify, tokens of any older key do
/// not. Clones share the keys, so [`Hs256::rotate`] reaches every holder.
#[derive(Clone)]
pub struct Hs256 {
    keys: Arc<RwLock<KeyRing>>,
    validation: Validation,
    issuer: String,
    audience: String,
}

struct Key {
    id: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl Key {
    fn new(secret: &Secret) -> Key {
        Key {
            id: key_id(secret),
            encoding: EncodingKey::from_secret(secret.expose().as_bytes()),
            decoding: DecodingKey::from_secret(secret.expose().as_bytes()),
        }
    }
}

struct KeyRing {
    current: Key,
    previous: Option<Key>,
}

/// A key's public name: 16 hex digits of a hash of it, so a token tells which
/// key signed it without telling anything about the key.
pub fn key_id(secret: &Secret) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new().chain_update(b"ticket-booking/kid/").chain_update(secret.expose()).finalize();
    hex::encode(&digest[..8])
}

impl Hs256 {
    /// `expiry_leeway`: the clock skew allowed on `exp`, in seconds, or
    /// `None` for tokens that never expire.
    pub fn new(secret: &Secret, issuer: &str, audience: &str, required: &[&str], expiry_leeway: Option<u64>) -> Self {
        let mut validation = Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.validate_exp = expiry_leeway.is_some();
        validation.leeway = expiry_leeway.unwrap_or(0);
        validation.set_required_spec_claims(required);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        Hs256 {
            keys: Arc::new(RwLock::new(KeyRing { current: Key::new(secret), previous: None })),
            validation,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
        }
    }

    /// Signs with `current` from now on and still accepts `previous` (the
    /// key before a rotation); every other key is forgotten.
    pub fn rotate(&self, current: &Secret, previous: Option<&Secret>) {
        let ring = KeyRing { current: Key::new(current), previous: previous.filter(|p| *p != current).map(Key::new) };
        *self.keys.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = ring;
    }

    fn ring(&self) -> std::sync::RwLockReadGuard<'_, KeyRing> {
        // A panic while swapping keys leaves a whole ring behind either way.
        self.keys.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// `what` names the token in the error, should signing ever fail.
    pub fn sign<T: Serialize>(&self, claims: &T, what: &str) -> Result<String, ApiError> {
        let ring = self.ring();
        let mut header = Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = Some(ring.current.id.clone());
        encode(&header, claims, &ring.current.encoding)
            .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context(format!("signing {what}"))))
    }

    /// Whether the token names a key this codec does not hold: signed after
    /// a rotation this instance has not read yet, or forged. Either way
    /// only reading the secrets again can tell.
    pub fn names_unknown_key(&self, token: &str) -> bool {
        let Ok(header) = jsonwebtoken::decode_header(token) else { return false };
        let ring = self.ring();
        header.kid.is_some_and(|kid| kid != ring.current.id && ring.previous.as_ref().is_none_or(|p| p.id != kid))
    }

    pub fn decode<T: serde::de::DeserializeOwned>(&self, token: &str) -> Result<T, jsonwebtoken::errors::Error> {
        let header = jsonwebtoken::decode_header(token)?;
        let ring = self.ring();
        let key = match header.kid {
            // Tokens from before key ids were the current key's.
            None => &ring.current,
            Some(kid) if kid == ring.current.id => &ring.current,
            Some(kid) => match &ring.previous {
                Some(previous) if previous.id == kid => previous,
                _ => return Err(jsonwebtoken::errors::ErrorKind::InvalidSignature.into()),
            },
        };
        decode::<T>(token, &key.decoding, &self.validation).map(|data| data.claims)
    }
}

#[derive(Clone)]
pub struct JwtKeys {
    codec: Hs256,
    ttl: Duration,
}

impl JwtKeys {
    pub fn new(secret: &Secret, ttl: Duration, issuer: &str, audience: &str) -> Self {
        let required = ["exp", "iat", "sub", "iss", "aud"];
        JwtKeys { codec: Hs256::new(secret, issuer, audience, &required, Some(5)), ttl }
    }

    /// After a rotation: sign with `current`, still accept `previous`. A
    /// token lives `ttl`, so the previous key's tokens are gone one lifetime
    /// after the rotation reached every instance (`SECRETS_TTL_SECS`), and
    /// the next rotation retires that key for good.
    pub fn rotate(&self, current: &Secret, previous: Option<&Secret>) {
        self.codec.rotate(current, previous);
    }

    /// See [`Hs256::names_unknown_key`].
    pub fn names_unknown_key(&self, token: &str) -> bool {
        self.codec.names_unknown_key(token)
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Claims this deployment would issue, for `sign` (tests and tools that
    /// need a token with chosen times).
    pub fn claims(&self, user_id: Uuid, email: &str, role: Role, tier: Tier, iat: i64, exp: i64) -> Claims {
        Claims {
            sub: user_id,
            email: email.to_owned(),
            role,
            tier,
            iat,
            exp,
            iss: self.codec.issuer().to_owned(),
            aud: self.codec.audience().to_owned(),
            ver: 0,
        }
    }

    pub fn issue(&self, user_id: Uuid, email: &str, role: Role, tier: Tier) -> Result<String, ApiError> {
        self.issue_versioned(user_id, email, role, tier, 0)
    }

    /// A login token carrying the account's current token version.
    pub fn issue_versioned(
        &self,
        user_id: Uuid,
        email: &str,
        role: Role,
        tier: Tier,
        version: i64,
    ) -> Result<String, ApiError> {
        let now = Utc::now().timestamp();
        let claims = self.claims(user_id, email, role, tier, now, now + self.ttl.as_secs() as i64);
        self.sign(&Claims { ver: version, ..claims })
    }

    pub fn sign(&self, claims: &Claims) -> Result<String, ApiError> {
        self.codec.sign(claims, "jwt")
    }

    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        self.codec.decode::<Claims>(token).map_err(|err| {
            use jsonwebtoken::errors::ErrorKind;
            let message = match err.kind() {
                ErrorKind::ExpiredSignature => "Token has expired",
                _ => "Invalid token",
            };
            ApiError::Unauthorized(message.into())
        })
    }

    /// Claims of the caller, from `Authorization: Bearer <jwt>` or the bare
    /// token (the original API accepted both). Two Authorization headers are
    /// ambiguous and refused.
    pub fn authenticate(&self, req: &Request) -> Result<Claims, ApiError> {
        self.verify(bearer_token(req)?)
    }
}

/// The token of `Authorization: Bearer <jwt>` (or a bare token).
pub fn bearer_token(req: &Request) -> Result<&str, ApiError> {
    let mut values = req.headers().get_all(http::header::AUTHORIZATION).iter();
    let value = values.next().ok_or_else(|| ApiError::Unauthorized("Authentication required".into()))?;
    if values.next().is_some() {
        return Err(ApiError::Unauthorized("Send exactly one Authorization header".into()));
    }
    let value = value.to_str().map_err(|_| ApiError::Unauthorized("Invalid token".into()))?.trim();
    let token = match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        Some(_) => return Err(ApiError::Unauthorized("Invalid token".into())),
        None => value,
    };
    if token.is_empty() {
        return Err(ApiError::Unauthorized("Authentication required".into()));
    }
    Ok(token)
}

/// argon2id with the configured cost. Hashing is CPU-bound, so callers run it
/// on the blocking pool (see [`PasswordHasherService::hash`]).
#[derive(Clone)]
pub struct PasswordHasherService {
    argon: Argon2<'static>,
    /// A real hash of a random password: verifying against it when the email
    /// is unknown makes "no such user" cost the same as "wrong password".
    /// Made on first use, not at cold start.
    decoy_hash: Arc<OnceLock<String>>,
}

impl PasswordHasherService {
    pub fn new(cost: PasswordCost) -> anyhow::Result<Self> {
        let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
            .map_err(|e| anyhow::anyhow!("invalid argon2 parameters: {e}"))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        Ok(PasswordHasherService { argon, decoy_hash: Arc::default() })
    }

    fn hash_blocking(argon: &Argon2<'static>, password: &[u8]) -> Result<String, argon2::password_hash::Error> {
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        argon.hash_password(password, &salt).map(|h| h.to_string())
    }

    pub async fn hash(&self, password: &str) -> Result<String, ApiError> {
        let argon = self.argon.clone();
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || Self::hash_blocking(&argon, password.as_bytes()))
            .await
            .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("password hashing task")))?
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("hashing password: {e}")))
    }

    /// True when `password` matches `stored`; `None` verifies against the
    /// decoy so the timing does not reveal whether the account exists.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<bool, ApiError> {
        let argon = self.argon.clone();
        let password = password.to_owned();
        let exists = stored.is_some();
        let stored = stored.map(str::to_owned);
        let decoy = self.decoy_hash.clone();
        let matched = tokio::task::spawn_blocking(move || {
            let stored = match &stored {
                Some(hash) => hash.as_str(),
                None => decoy.get_or_init(|| {
                    Self::hash_blocking(&argon, Uuid::new_v4().as_bytes()).expect("argon2 hashes a 16-byte input")
                }),
            };
            PasswordHash::new(stored).map(|parsed| argon.verify_password(password.as_bytes(), &parsed).is_ok())
        })
        .await
        .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("password verification task")))?
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("stored password hash is unreadable: {e}")))?;
        Ok(exists && matched)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};

    fn keys() -> JwtKeys {
        JwtKeys::new(
            &Secret::new("a-test-secret-that-is-long-enough-0123456789"),
            Duration::from_secs(60),
            "here",
            "api",
        )
    }

    fn request_with(headers: &[&str]) -> Request {
        let mut req = Request::new(lambda_http::Body::Empty);
        for value in headers {
            req.headers_mut().append(http::header::AUTHORIZATION, value.parse().unwrap());
        }
        req
    }

    #[test]
    fn issued_tokens_round_trip_with_all_claims() {
        let keys = keys();
        let id = Uuid::new_v4();
        let token = keys.issue(id, "a@b.co", Role::Admin, Tier::Vip).unwrap();
        let claims = keys.verify(&token).unwrap();
        assert_eq!(claims.sub, id);
        assert_eq!(claims.role, Role::Admin);
        assert_eq!(claims.tier, Tier::Vip);
        assert_eq!(claims.exp - claims.iat, 60);
    }

    #[test]
    fn bearer_and_bare_tokens_are_both_accepted() {
        let keys = keys();
        let token = keys.issue(Uuid::new_v4(), "a@b.co", Role::User, Tier::Regular).unwrap();
        assert!(keys.authenticate(&request_with(&[&format!("Bearer {token}")])).is_ok());
        assert!(keys.authenticate(&request_with(&[&format!("bearer {token}")])).is_ok());
        assert!(keys.authenticate(&request_with(&[&token])).is_ok());
    }

    #[test]
    fn missing_doubled_and_foreign_scheme_headers_are_rejected() {
        let keys = keys();
        let token = keys.issue(Uuid::new_v4(), "a@b.co", Role::User, Tier::Regular).unwrap();
        for req in [
            request_with(&[]),
            request_with(&[&token, &token]),
            request_with(&[&format!("Basic {token}")]),
            request_with(&["Bearer "]),
        ] {
            assert_eq!(keys.authenticate(&req).unwrap_err().status(), 401);
        }
    }

    #[test]
    fn expired_tokens_are_rejected() {
        let keys = keys();
        let now = Utc::now().timestamp();
        let claims = keys.claims(Uuid::new_v4(), "a@b.co", Role::User, Tier::Regular, now - 600, now - 120);
        let err = keys.verify(&keys.sign(&claims).unwrap()).unwrap_err();
        assert_eq!(err.to_string(), "Token has expired");
    }

    #[test]
    fn tokens_signed_with_another_key_are_rejected() {
        let other = JwtKeys::new(
            &Secret::new("another-secret-that-is-long-enough-98765"),
            Duration::from_secs(60),
            "here",
            "api",
        );
        let token = other.issue(Uuid::new_v4(), "a@b.co", Role::Admin, Tier::Vip).unwrap();
        assert_eq!(keys().verify(&token).unwrap_err().status(), 401);
    }

    #[test]
    fn tokens_of_another_issuer_or_audience_with_the_same_secret_are_rejected() {
        let secret = Secret::new("a-test-secret-that-is-long-enough-0123456789");
        let ttl = Duration::from_secs(60);
        for other in [JwtKeys::new(&secret, ttl, "staging", "api"), JwtKeys::new(&secret, ttl, "here", "admin-api")] {
            let token = other.issue(Uuid::new_v4(), "a@b.co", Role::Admin, Tier::Vip).unwrap();
            assert_eq!(keys().verify(&token).unwrap_err().status(), 401);
        }
        // And a token without the claims at all.
        #[derive(Serialize)]
        struct Bare {
            sub: Uuid,
            email: &'static str,
            role: Role,
            tier: Tier,
            iat: i64,
            exp: i64,
        }
        let now = Utc::now().timestamp();
        let bare =
            Bare { sub: Uuid::new_v4(), email: "a@b.co", role: Role::Admin, tier: Tier::Vip, iat: now, exp: now + 60 };
        let token = encode(
            &Header::new(jsonwebtoken::Algorithm::HS256),
            &bare,
            &EncodingKey::from_secret(secret.expose().as_bytes()),
        )
        .unwrap();
        assert!(keys().verify(&token).is_err());
    }

    #[test]
    fn alg_none_and_tampered_tokens_are_rejected() {
        let keys = keys();
        let token = keys.issue(Uuid::new_v4(), "a@b.co", Role::User, Tier::Regular).unwrap();
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        // Promote ourselves to admin without re-signing.
        let mut payload: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
        payload["role"] = "admin".into();
        parts[1] = URL_SAFE_NO_PAD.encode(payload.to_string());
        assert!(keys.verify(&parts.join(".")).is_err());
        // The same claims with alg none and no signature.
        let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        assert!(keys.verify(&format!("{none_header}.{}.", parts[1])).is_err());
        assert!(keys.verify("not-a-jwt").is_err());
    }

    #[test]
    fn a_rotation_keeps_the_previous_keys_tokens_and_retires_older_ones() {
        let (first, second, third) = (
            Secret::new("first-key-that-is-long-enough-0123456789"),
            Secret::new("second-key-that-is-long-enough-012345678"),
            Secret::new("third-key-that-is-long-enough-0123456789"),
        );
        let keys = JwtKeys::new(&first, Duration::from_secs(60), "here", "api");
        let signed_with_first = keys.issue(Uuid::new_v4(), "a@b.co", Role::User, Tier::Regular).unwrap();
        let header = jsonwebtoken::decode_header(&signed_with_first).unwrap();
        assert_eq!(header.kid.as_deref(), Some(key_id(&first).as_str()));
        assert!(!key_id(&first).contains("first-key"), "the key id says nothing of the key");

        keys.rotate(&second, Some(&first));
        assert!(keys.verify(&signed_with_first).is_ok(), "the previous key's tokens live out their lifetime");
        let signed_with_second = keys.issue(Uuid::new_v4(), "a@b.co", Role::User, Tier::Regular).unwrap();
        assert!(keys.verify(&signed_with_second).is_ok());

        keys.rotate(&third, Some(&second));
        assert_eq!(keys.verify(&signed_with_first).unwrap_err().status(), 401, "a retired key is refused");
        assert!(keys.verify(&signed_with_second).is_ok());
        assert!(keys.names_unknown_key(&signed_with_first));
        assert!(!keys.names_unknown_key(&signed_with_second));

        // A forger who names the current key id but signs with a key of
        // their own gets nothing, whatever kid they claim.
        let forger = JwtKeys::new(
            &Secret::new("forged-key-that-is-long-enough-012345678"),
            Duration::from_secs(60),
            "here",
            "api",
        );
        let claims = keys.claims(
            Uuid::new_v4(),
            "a@b.co",
            Role::Admin,
            Tier::Vip,
            Utc::now().timestamp(),
            Utc::now().timestamp() + 60,
        );
        for kid in [Some(key_id(&third)), Some(key_id(&second)), None] {
            let mut header = Header::new(jsonwebtoken::Algorithm::HS256);
            header.kid = kid;
            let forged =
                encode(&header, &claims, &EncodingKey::from_secret(b"forged-key-that-is-long-enough-012345678"))
                    .unwrap();
            assert_eq!(keys.verify(&forged).unwrap_err().status(), 401);
        }
        assert!(keys.verify(&forger.sign(&claims).unwrap()).is_err());
    }

    #[test]
    fn versioned_tokens_carry_their_version_and_old_tokens_read_as_zero() {
        let keys = keys();
        let token = keys.issue_versioned(Uuid::new_v4(), "a@b.co", Role::User, Tier::Regular, 7).unwrap();
        assert_eq!(keys.verify(&token).unwrap().ver, 7);
        #[derive(Serialize)]
        struct Unversioned {
            sub: Uuid,
            email: &'static str,
            role: Role,
            tier: Tier,
            iat: i64,
            exp: i64,
            iss: &'static str,
            aud: &'static str,
        }
        let now = Utc::now().timestamp();
        let old = Unversioned {
            sub: Uuid::new_v4(),
            email: "a@b.co",
            role: Role::User,
            tier: Tier::Regular,
            iat: now,
            exp: now + 60,
            iss: "here",
            aud: "api",
        };
        let token = keys.codec.sign(&old, "jwt").unwrap();
        assert_eq!(keys.verify(&token).unwrap().ver, 0);
    }

    #[tokio::test]
    async fn passwords_hash_with_argon2id_and_verify() {
        let hasher =
            PasswordHasherService::new(PasswordCost { memory_kib: 1024, iterations: 1, parallelism: 1 }).unwrap();
        let hash = hasher.hash("correct horse").await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(hasher.verify("correct horse", Some(&hash)).await.unwrap());
        assert!(!hasher.verify("wrong horse", Some(&hash)).await.unwrap());
        assert!(!hasher.verify("correct horse", None).await.unwrap());
    }
}
