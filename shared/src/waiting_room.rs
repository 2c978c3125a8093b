//! The on-sale waiting room: admins set an event's on-sale, fans join its
//! line and read their place, and a booking for a queued event needs the
//! admission pass the line hands out. The rules are in
//! [`crate::domain::onsale`]; the live line is a [`QueueStore`]; this module
//! wires them to the caller's claims and the clock.

use std::{
    collections::HashMap,
    sync::RwLock,
    time::{Duration, Instant},
};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use jsonwebtoken::{decode, encode, DecodingKey, EncodingKey, Header, Validation};

use crate::{
    auth::Claims,
    catalog::LayoutCache,
    config::{Config, Secret},
    domain::{
        event::EventId,
        onsale::{
            Admission, LineView, OnSale, OnSaleRequest, OnSaleView, PassClaims, PlaceState, QueueSnapshot, QueueToken,
            QueueView,
        },
    },
    error::ApiError,
    repo::{EventCatalog, LineRules, OnSaleStore, QueueStore},
};

/// Decides whether a booking for an event may go ahead, and under which
/// limits. `Bookings::create` asks it before holding any seat.
#[async_trait]
pub trait AdmissionGate: Send + Sync {
    async fn admit(
        &self,
        user: &Claims,
        event: &EventId,
        pass: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Admission, ApiError>;
}

/// On-sales as this instance last read them. An admin's change reaches
/// every instance within `ttl` (the one that made it at once), and a sale
/// of 500 bookings a second costs one PostgreSQL read a second.
pub struct OnSaleCache {
    ttl: Duration,
    entries: RwLock<HashMap<EventId, (Instant, Option<OnSale>)>>,
}

/// Past this many events the cache starts over rather than grow.
const MAX_CACHED_SALES: usize = 10_000;

impl OnSaleCache {
    pub fn new(ttl: Duration) -> Self {
        OnSaleCache { ttl, entries: RwLock::default() }
    }

    pub async fn get(&self, store: &dyn OnSaleStore, event: &EventId) -> Result<Option<OnSale>, ApiError> {
        if let Some((read_at, sale)) = self.entries.read().expect("on-sale cache lock").get(event) {
            if read_at.elapsed() < self.ttl {
                return Ok(sale.clone());
            }
        }
        let sale = store.get(event).await?;
        let mut entries = self.entries.write().expect("on-sale cache lock");
        if entries.len() >= MAX_CACHED_SALES {
            entries.clear();
        }
        entries.insert(event.clone(), (Instant::now(), sale.clone()));
        Ok(sale)
    }

    pub fn forget(&self, event: &EventId) {
        self.entries.write().expect("on-sale cache lock").remove(event);
    }
}

/// Signs and checks admission passes: HS256 with the deployment's JWT key,
/// but an audience of their own, so a login token is never a pass and a
/// pass never logs anyone in.
#[derive(Clone)]
pub struct AdmissionPasses {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
}

impl AdmissionPasses {
    pub fn new(secret: &Secret, issuer: &str, api_audience: &str) -> Self {
        let audience = format!("{api_audience}/admission");
        let mut validation = Validation::new(jsonwebtoken::Algorithm::HS256);
        // No leeway: the queue hands the slot on at the expiry to the millisecond.
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "iat", "sub", "iss", "aud"]);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[&audience]);
        AdmissionPasses {
            encoding: EncodingKey::from_secret(secret.expose().as_bytes()),
            decoding: DecodingKey::from_secret(secret.expose().as_bytes()),
            validation,
            issuer: issuer.to_owned(),
            audience,
        }
    }

    pub fn from_config(config: &Config) -> Self {
        AdmissionPasses::new(&config.jwt_secret, &config.jwt_issuer, &config.jwt_audience)
    }

    pub fn claims(&self, user: uuid::Uuid, event: &EventId, place: u64, iat: i64, exp_ms: i64) -> PassClaims {
        PassClaims {
            sub: user,
            evt: event.to_string(),
            plc: place,
            iat,
            // JWT times are seconds; rounding down keeps the pass from
            // outliving its slot.
            exp: exp_ms.div_euclid(1000),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
        }
    }

    pub fn sign(&self, claims: &PassClaims) -> Result<String, ApiError> {
        encode(&Header::new(jsonwebtoken::Algorithm::HS256), claims, &self.encoding)
            .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("signing an admission pass")))
    }

    /// The pass's claims, if it is genuine, unexpired, and for this user
    /// and event.
    pub fn verify(&self, pass: &str, user: uuid::Uuid, event: &EventId) -> Result<PassClaims, ApiError> {
        let claims =
            decode::<PassClaims>(pass, &self.decoding, &self.validation).map(|d| d.claims).map_err(|err| match err
                .kind()
            {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => pass_expired(),
                _ => ApiError::denied("ADMISSION_PASS_INVALID", "The admission pass is not valid"),
            })?;
        if claims.sub != user || claims.evt != event.as_ref() {
            return Err(ApiError::denied("ADMISSION_PASS_INVALID", "The admission pass is for another fan or event"));
        }
        Ok(claims)
    }
}

fn pass_expired() -> ApiError {
    ApiError::denied("ADMISSION_PASS_EXPIRED", "The admission pass has expired; join the queue again")
}

/// The waiting room wired to one instance's stores.
pub struct WaitingRoom<'a> {
    pub sales: Box<dyn OnSaleStore + 'a>,
    pub cache: &'a OnSaleCache,
    pub queue: Box<dyn QueueStore + 'a>,
    pub passes: &'a AdmissionPasses,
    pub layouts: &'a LayoutCache,
    pub catalog: Box<dyn EventCatalog + 'a>,
}

impl WaitingRoom<'_> {
    pub async fn set_on_sale(
        &self,
        admin: &Claims,
        event: &EventId,
        request: OnSaleRequest,
    ) -> Result<OnSaleView, ApiError> {
        let layout = self.layouts.get(self.catalog.as_ref(), event).await?;
        let sale = request.parse(event.clone(), layout.event.date)?;
        self.sales.put(&sale, admin.sub).await?;
        self.cache.forget(event);
        tracing::info!(event.id = %event, queue = sale.queue_enabled, rate = sale.admission_per_minute, opens_at = %sale.opens_at, "on-sale set");
        Ok(OnSaleView::from(&sale))
    }

    pub async fn on_sale(&self, event: &EventId) -> Result<OnSaleView, ApiError> {
        let sale = self.sale(event).await?.ok_or_else(|| no_on_sale(event))?;
        Ok(OnSaleView::from(&sale))
    }

    pub async fn join(&self, user: &Claims, event: &EventId, now: DateTime<Utc>) -> Result<QueueView, ApiError> {
        let sale = self.queued_sale(event).await?;
        let rules = self.rules(&sale, now).await?;
        let fresh = QueueToken::generate(event);
        let draw = uuid::Uuid::new_v4().as_u64_pair().0;
        let (token, snap) = self.queue.join(&rules, user.sub, &fresh, draw).await?;
        if token == fresh {
            tracing::info!(event.id = %event, place = ?snap.place, "fan joined the queue");
        }
        self.view(user, &token, &sale, &snap, now)
    }

    pub async fn status(&self, user: &Claims, token: &str, now: DateTime<Utc>) -> Result<QueueView, ApiError> {
        let token = QueueToken::parse(token)?;
        let sale = self.queued_sale(&token.event).await?;
        let rules = self.rules(&sale, now).await?;
        let snap = self
            .queue
            .status(&rules, user.sub, &token)
            .await?
            .ok_or_else(|| ApiError::NotFound("No such place in line".into()))?;
        self.view(user, &token, &sale, &snap, now)
    }

    pub async fn line(&self, event: &EventId, now: DateTime<Utc>) -> Result<LineView, ApiError> {
        let sale = self.queued_sale(event).await?;
        let rules = self.rules(&sale, now).await?;
        Ok(LineView::new(&sale, &self.queue.line(&rules, event).await?))
    }

    fn view(
        &self,
        user: &Claims,
        token: &QueueToken,
        sale: &OnSale,
        snap: &QueueSnapshot,
        now: DateTime<Utc>,
    ) -> Result<QueueView, ApiError> {
        let pass = match (snap.state, snap.place) {
            (PlaceState::Admitted { pass_expires_ms }, Some(place)) => {
                let claims = self.passes.claims(user.sub, &token.event, place, now.timestamp(), pass_expires_ms);
                Some(self.passes.sign(&claims)?)
            }
            _ => None,
        };
        let spread = uuid::Uuid::new_v4().as_u64_pair().1 as u32;
        Ok(QueueView::new(token, sale, snap, pass, now, spread))
    }

    async fn sale(&self, event: &EventId) -> Result<Option<OnSale>, ApiError> {
        self.cache.get(self.sales.as_ref(), event).await
    }

    async fn queued_sale(&self, event: &EventId) -> Result<OnSale, ApiError> {
        match self.sale(event).await? {
            Some(sale) if sale.queue_enabled => Ok(sale),
            Some(_) => Err(ApiError::conflict("This event's on-sale has no waiting room; book directly")),
            None => Err(no_on_sale(event)),
        }
    }

    async fn rules(&self, sale: &OnSale, now: DateTime<Utc>) -> Result<LineRules, ApiError> {
        let layout = self.layouts.get(self.catalog.as_ref(), &sale.event_id).await?;
        Ok(LineRules {
            now_ms: now.timestamp_millis(),
            opens_at_ms: sale.opens_at_ms(),
            per_minute: sale.admission_per_minute,
            pass_ttl_ms: sale.pass_ttl.as_millis() as i64,
            total_seats: layout.seats.len() as u32,
        })
    }
}

/// The event exists (or may): it is its state, having no on-sale, that
/// refuses the call.
fn no_on_sale(event: &EventId) -> ApiError {
    ApiError::Refused {
        status: http::StatusCode::CONFLICT,
        code: "NO_ON_SALE",
        message: format!("Event {event} has no on-sale"),
        details: None,
    }
}

#[async_trait]
impl AdmissionGate for WaitingRoom<'_> {
    /// No on-sale: as before. An on-sale not open yet: refused. A queued
    /// on-sale: a genuine, unexpired pass for this fan and event, whose
    /// slot the queue has not handed on.
    async fn admit(
        &self,
        user: &Claims,
        event: &EventId,
        pass: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Admission, ApiError> {
        let Some(sale) = self.sale(event).await? else {
            return Ok(Admission::default());
        };
        if !sale.is_open(now) {
            return Err(ApiError::denied(
                "SALE_NOT_OPEN",
                format!("The sale for this event opens at {}", sale.opens_at.to_rfc3339()),
            ));
        }
        if sale.queue_enabled {
            let pass = pass.ok_or_else(|| {
                ApiError::denied(
                    "ADMISSION_PASS_REQUIRED",
                    format!("This on-sale has a waiting room: join it at POST /events/{event}/queue"),
                )
            })?;
            let claims = self.passes.verify(pass, user.sub, event)?;
            let rules = self.rules(&sale, now).await?;
            if !self.queue.spend_pass(&rules, event, claims.plc).await? {
                return Err(pass_expired());
            }
        }
        Ok(Admission { max_seats_per_user: sale.max_seats_per_user })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passes() -> AdmissionPasses {
        AdmissionPasses::new(&Secret::new("x".repeat(32)), "issuer", "api")
    }

    fn event(id: &str) -> EventId {
        EventId::parse(id).unwrap()
    }

    #[test]
    fn a_pass_is_bound_to_its_fan_and_event() {
        let passes = passes();
        let (fan, other) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        let exp_ms = (Utc::now() + chrono::Duration::minutes(3)).timestamp_millis();
        let pass = passes.sign(&passes.claims(fan, &event("eras"), 7, Utc::now().timestamp(), exp_ms)).unwrap();
        assert_eq!(passes.verify(&pass, fan, &event("eras")).unwrap().plc, 7);
        for (who, what) in [(other, event("eras")), (fan, event("jazz"))] {
            assert_eq!(passes.verify(&pass, who, &what).unwrap_err().code(), "ADMISSION_PASS_INVALID");
        }
    }

    #[test]
    fn expired_forged_and_login_tokens_are_not_passes() {
        let passes = passes();
        let fan = uuid::Uuid::new_v4();
        let old = (Utc::now() - chrono::Duration::seconds(5)).timestamp_millis();
        let expired = passes.sign(&passes.claims(fan, &event("eras"), 0, 0, old)).unwrap();
        assert_eq!(passes.verify(&expired, fan, &event("eras")).unwrap_err().code(), "ADMISSION_PASS_EXPIRED");

        let future = (Utc::now() + chrono::Duration::minutes(3)).timestamp_millis();
        let other_key = AdmissionPasses::new(&Secret::new("y".repeat(32)), "issuer", "api");
        let forged = other_key.sign(&other_key.claims(fan, &event("eras"), 0, 0, future)).unwrap();
        assert_eq!(passes.verify(&forged, fan, &event("eras")).unwrap_err().code(), "ADMISSION_PASS_INVALID");

        let keys = crate::auth::JwtKeys::new(&Secret::new("x".repeat(32)), Duration::from_secs(60), "issuer", "api");
        let login = keys.issue(fan, "a@b.c", crate::domain::user::Role::User, Default::default()).unwrap();
        assert_eq!(passes.verify(&login, fan, &event("eras")).unwrap_err().code(), "ADMISSION_PASS_INVALID");

        let header = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, r#"{"alg":"none"}"#);
        let body = expired.split('.').nth(1).unwrap();
        let unsigned = format!("{header}.{body}.");
        assert_eq!(passes.verify(&unsigned, fan, &event("eras")).unwrap_err().code(), "ADMISSION_PASS_INVALID");
    }
}
