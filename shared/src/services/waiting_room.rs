//! The on-sale waiting room: admins set an event's on-sale, fans join its
//! line and read their place, and a booking for a queued event needs the
//! admission pass the line hands out. The rules are in
//! [`crate::domain::onsale`]; the live line is a [`QueueStore`]; this module
//! wires them to the caller's claims and the clock.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{
    auth::{Claims, Hs256},
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

    /// Whether seats that came back may be offered to the event's waiting
    /// list now, and under which limits: `None` while the sale is not open
    /// or its waiting room still has fans in line, whose turn comes first
    /// (the queue admits them as seats come back).
    async fn offer_terms(&self, event: &EventId, now: DateTime<Utc>) -> Result<Option<Admission>, ApiError>;
}

/// On-sales as this instance last read them. An admin's change reaches
/// every instance within `ttl` (the one that made it at once), and a sale
/// of 500 bookings a second costs one PostgreSQL read a second. "No
/// on-sale" is cached the same way, so ids that name nothing (a scraper
/// walking ids on the public queue routes) reach PostgreSQL once a `ttl`
/// each; the cache is bounded and evicts the least used entries one at a
/// time, so such a walk never empties it of the events people are buying.
pub struct OnSaleCache {
    entries: moka::sync::Cache<EventId, Option<OnSale>>,
}

/// Entries kept at most; enough for every event a real venue sells at once.
const MAX_CACHED_SALES: u64 = 10_000;

impl OnSaleCache {
    pub fn new(ttl: Duration) -> Self {
        OnSaleCache { entries: moka::sync::Cache::builder().max_capacity(MAX_CACHED_SALES).time_to_live(ttl).build() }
    }

    pub async fn get(&self, store: &dyn OnSaleStore, event: &EventId) -> Result<Option<OnSale>, ApiError> {
        if let Some(sale) = self.entries.get(event) {
            return Ok(sale);
        }
        let sale = store.get(event).await?;
        self.entries.insert(event.clone(), sale.clone());
        Ok(sale)
    }

    pub fn forget(&self, event: &EventId) {
        self.entries.invalidate(event);
    }
}

/// Signs and checks admission passes: HS256 with the deployment's JWT key,
/// but an audience of their own, so a login token is never a pass and a
/// pass never logs anyone in.
#[derive(Clone)]
pub struct AdmissionPasses {
    codec: Hs256,
}

impl AdmissionPasses {
    pub fn new(secret: &Secret, issuer: &str, api_audience: &str) -> Self {
        let required = ["exp", "iat", "sub", "iss", "aud"];
        // No leeway: the queue hands the slot on at the expiry to the millisecond.
        AdmissionPasses { codec: Hs256::new(secret, issuer, &format!("{api_audience}/admission"), &required, Some(0)) }
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
            iss: self.codec.issuer().to_owned(),
            aud: self.codec.audience().to_owned(),
        }
    }

    pub fn sign(&self, claims: &PassClaims) -> Result<String, ApiError> {
        self.codec.sign(claims, "an admission pass")
    }

    /// The pass's claims, if it is genuine, unexpired, and for this user
    /// and event.
    pub fn verify(&self, pass: &str, user: uuid::Uuid, event: &EventId) -> Result<PassClaims, ApiError> {
        let claims = self.codec.decode::<PassClaims>(pass).map_err(|err| match err.kind() {
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
            None => {
                // An id that names no event is a 404, not "no on-sale".
                self.layouts.get(self.catalog.as_ref(), event).await?;
                Err(no_on_sale(event))
            }
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

/// Bookings have not opened: at `at`, or when the organiser sets the
/// on-sale.
fn sale_not_open(at: Option<DateTime<Utc>>) -> ApiError {
    let message = match at {
        Some(at) => format!("The sale for this event opens at {}", at.to_rfc3339()),
        None => "The sale for this event has not opened yet".to_owned(),
    };
    ApiError::denied("SALE_NOT_OPEN", message)
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
            let layout = self.layouts.get(self.catalog.as_ref(), event).await?;
            return match layout.event.sales_start.opens(now) {
                Ok(()) => Ok(Admission::default()),
                Err(at) => Err(sale_not_open(at)),
            };
        };
        if !sale.is_open(now) {
            return Err(sale_not_open(Some(sale.opens_at)));
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

    async fn offer_terms(&self, event: &EventId, now: DateTime<Utc>) -> Result<Option<Admission>, ApiError> {
        let Some(sale) = self.sale(event).await? else {
            let layout = self.layouts.get(self.catalog.as_ref(), event).await?;
            return Ok(layout.event.sales_start.opens(now).is_ok().then(Admission::default));
        };
        if !sale.is_open(now) {
            return Ok(None);
        }
        if sale.queue_enabled {
            let rules = self.rules(&sale, now).await?;
            let line = self.queue.line(&rules, event).await?;
            if line.in_line > line.admitted {
                return Ok(None);
            }
        }
        Ok(Some(Admission { max_seats_per_user: sale.max_seats_per_user }))
    }
}

#[cfg(test)]
mod tests {
    use std::{
        collections::HashMap,
        sync::{Arc, Mutex},
    };

    use super::*;
    use crate::domain::{
        event::{Event, SalesStart, Section, Venue},
        onsale::{LineSnapshot, QueueSnapshot},
        user::{Role, Tier},
    };

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

    // In-memory stand-ins for the ports the gate uses; the same decisions
    // against Redis and PostgreSQL are in tests/tests/api/waiting_room.rs.

    #[derive(Default)]
    struct Sales(Mutex<HashMap<EventId, OnSale>>);

    #[async_trait]
    impl OnSaleStore for Sales {
        async fn put(&self, sale: &OnSale, _by: uuid::Uuid) -> Result<(), ApiError> {
            self.0.lock().unwrap().insert(sale.event_id.clone(), sale.clone());
            Ok(())
        }
        async fn get(&self, event: &EventId) -> Result<Option<OnSale>, ApiError> {
            Ok(self.0.lock().unwrap().get(event).cloned())
        }
    }

    struct Catalog(Event);

    #[async_trait]
    impl EventCatalog for Catalog {
        async fn insert(&self, _event: &Event) -> Result<bool, ApiError> {
            Ok(false)
        }
        async fn get(&self, id: &EventId) -> Result<Option<Event>, ApiError> {
            Ok((self.0.id == *id).then(|| self.0.clone()))
        }
        async fn list(&self, _query: &crate::repo::EventQuery) -> Result<(Vec<Event>, u64), ApiError> {
            Ok((vec![self.0.clone()], 1))
        }
    }

    /// Passes that are still good, by place; records every spend asked for.
    #[derive(Default)]
    struct Passes {
        good: Mutex<Vec<u64>>,
        spent: Mutex<Vec<u64>>,
    }

    #[async_trait]
    impl QueueStore for Passes {
        async fn join(
            &self,
            _: &LineRules,
            _: uuid::Uuid,
            _: &QueueToken,
            _: u64,
        ) -> Result<(QueueToken, QueueSnapshot), ApiError> {
            unreachable!("the gate never joins anyone")
        }
        async fn status(
            &self,
            _: &LineRules,
            _: uuid::Uuid,
            _: &QueueToken,
        ) -> Result<Option<QueueSnapshot>, ApiError> {
            unreachable!("the gate never reads a place")
        }
        async fn spend_pass(&self, _: &LineRules, _: &EventId, place: u64) -> Result<bool, ApiError> {
            self.spent.lock().unwrap().push(place);
            Ok(self.good.lock().unwrap().contains(&place))
        }
        async fn line(&self, _: &LineRules, _: &EventId) -> Result<LineSnapshot, ApiError> {
            unreachable!("the gate never reads the line")
        }
    }

    fn show(id: &EventId) -> Event {
        let now = Utc::now();
        Event {
            id: id.clone(),
            name: "Show".into(),
            description: String::new(),
            category: "pop".into(),
            date: now + chrono::Duration::days(30),
            venue: Venue { name: "Hall".into(), city: None, address: None, capacity: 20 },
            artist: None,
            currency: "USD".into(),
            sections: vec![Section {
                name: "Floor".into(),
                tier: Tier::Regular,
                price_cents: 1000,
                rows: vec!["A".into()],
                seats_per_row: 20,
            }],
            total_seats: 20,
            max_seats_per_user: None,
            sales_start: SalesStart::Legacy,
            created_at: now,
        }
    }

    struct Fixture {
        event: EventId,
        sales: Sales,
        passes: Arc<Passes>,
        signer: AdmissionPasses,
        cache: OnSaleCache,
        layouts: LayoutCache,
    }

    impl Fixture {
        fn new(sale: Option<(i64, bool)>) -> Fixture {
            let event = EventId::parse("gate-test").unwrap();
            let sales = Sales::default();
            if let Some((opens_in_secs, queue_enabled)) = sale {
                let sale = OnSale {
                    event_id: event.clone(),
                    opens_at: Utc::now() + chrono::Duration::seconds(opens_in_secs),
                    queue_enabled,
                    admission_per_minute: 60,
                    pass_ttl: Duration::from_secs(60),
                    max_seats_per_user: Some(2),
                };
                sales.0.lock().unwrap().insert(event.clone(), sale);
            }
            Fixture {
                event,
                sales,
                passes: Arc::new(Passes::default()),
                signer: passes(),
                cache: OnSaleCache::new(Duration::ZERO),
                layouts: LayoutCache::default(),
            }
        }

        fn room(&self) -> WaitingRoom<'_> {
            WaitingRoom {
                sales: Box::new(SalesRef(&self.sales)),
                cache: &self.cache,
                queue: Box::new(PassesRef(self.passes.clone())),
                passes: &self.signer,
                layouts: &self.layouts,
                catalog: Box::new(Catalog(show(&self.event))),
            }
        }

        fn pass_for(&self, user: uuid::Uuid, place: u64) -> String {
            let exp = (Utc::now() + chrono::Duration::minutes(1)).timestamp_millis();
            self.signer.sign(&self.signer.claims(user, &self.event, place, Utc::now().timestamp(), exp)).unwrap()
        }
    }

    /// Counts its reads: how often the cache went to the store.
    #[derive(Default)]
    struct CountingSales(Mutex<HashMap<EventId, u32>>);

    #[async_trait]
    impl OnSaleStore for CountingSales {
        async fn put(&self, _sale: &OnSale, _by: uuid::Uuid) -> Result<(), ApiError> {
            Ok(())
        }
        async fn get(&self, event: &EventId) -> Result<Option<OnSale>, ApiError> {
            *self.0.lock().unwrap().entry(event.clone()).or_default() += 1;
            Ok(None)
        }
    }

    /// A walk over more made-up ids than the cache holds once cleared the
    /// whole cache, sending every event people were buying back to
    /// PostgreSQL at once; now the walk's one-off ids are the ones evicted.
    #[tokio::test]
    async fn a_walk_over_unknown_ids_does_not_evict_the_events_in_use() {
        let (cache, store) = (OnSaleCache::new(Duration::from_secs(600)), CountingSales::default());
        let hot = event("on-sale-now");
        // Fans keep reading the event on sale while the walk goes on.
        for n in 0..(MAX_CACHED_SALES + 5_000) {
            cache.get(&store, &event(&format!("made-up-{n}"))).await.unwrap();
            if n % 10 == 0 {
                assert_eq!(cache.get(&store, &hot).await.unwrap(), None);
            }
        }
        assert_eq!(store.0.lock().unwrap()[&hot], 1, "the event in use was read from the store again");
        assert!(cache.entries.entry_count() <= MAX_CACHED_SALES, "bounded");
    }

    struct SalesRef<'a>(&'a Sales);

    #[async_trait]
    impl OnSaleStore for SalesRef<'_> {
        async fn put(&self, sale: &OnSale, by: uuid::Uuid) -> Result<(), ApiError> {
            self.0.put(sale, by).await
        }
        async fn get(&self, event: &EventId) -> Result<Option<OnSale>, ApiError> {
            self.0.get(event).await
        }
    }

    struct PassesRef(Arc<Passes>);

    #[async_trait]
    impl QueueStore for PassesRef {
        async fn join(
            &self,
            r: &LineRules,
            u: uuid::Uuid,
            t: &QueueToken,
            d: u64,
        ) -> Result<(QueueToken, QueueSnapshot), ApiError> {
            self.0.join(r, u, t, d).await
        }
        async fn status(
            &self,
            r: &LineRules,
            u: uuid::Uuid,
            t: &QueueToken,
        ) -> Result<Option<QueueSnapshot>, ApiError> {
            self.0.status(r, u, t).await
        }
        async fn spend_pass(&self, r: &LineRules, e: &EventId, place: u64) -> Result<bool, ApiError> {
            self.0.spend_pass(r, e, place).await
        }
        async fn line(&self, r: &LineRules, e: &EventId) -> Result<LineSnapshot, ApiError> {
            self.0.line(r, e).await
        }
    }

    fn fan(id: uuid::Uuid) -> Claims {
        let keys = crate::auth::JwtKeys::new(&Secret::new("x".repeat(32)), Duration::from_secs(60), "issuer", "api");
        keys.claims(id, "fan@example.test", Role::User, Tier::Regular, 0, i64::MAX)
    }

    async fn admit(fixture: &Fixture, who: uuid::Uuid, pass: Option<&str>) -> Result<Admission, ApiError> {
        fixture.room().admit(&fan(who), &fixture.event, pass, Utc::now()).await
    }

    #[tokio::test]
    async fn without_an_on_sale_the_gate_lets_everyone_book_as_before() {
        let fixture = Fixture::new(None);
        assert_eq!(admit(&fixture, uuid::Uuid::new_v4(), None).await.unwrap(), Admission::default());
        assert!(fixture.passes.spent.lock().unwrap().is_empty());
    }

    /// New events wait for their sale: off sale until the organiser sets
    /// the on-sale, or until the opening the create call gave.
    #[tokio::test]
    async fn without_an_on_sale_a_new_event_waits_for_its_opening() {
        let fixture = Fixture::new(None);
        let now = Utc::now();
        for (start, open) in [
            (SalesStart::WhenSet, false),
            (SalesStart::At(now + chrono::Duration::hours(1)), false),
            (SalesStart::At(now - chrono::Duration::seconds(1)), true),
        ] {
            fixture.layouts.put(Event { sales_start: start, ..show(&fixture.event) });
            let admitted = admit(&fixture, uuid::Uuid::new_v4(), None).await;
            match open {
                true => assert_eq!(admitted.unwrap(), Admission::default()),
                false => assert_eq!(admitted.unwrap_err().code(), "SALE_NOT_OPEN", "{start:?}"),
            }
            assert_eq!(fixture.room().offer_terms(&fixture.event, now).await.unwrap().is_some(), open, "{start:?}");
        }
    }

    #[tokio::test]
    async fn before_the_opening_nobody_books_and_after_it_the_sale_sets_the_limit() {
        let early = Fixture::new(Some((3600, false)));
        assert_eq!(admit(&early, uuid::Uuid::new_v4(), None).await.unwrap_err().code(), "SALE_NOT_OPEN");
        let open = Fixture::new(Some((-1, false)));
        assert_eq!(admit(&open, uuid::Uuid::new_v4(), None).await.unwrap().max_seats_per_user, Some(2));
    }

    #[tokio::test]
    async fn a_queued_sale_wants_this_fans_pass_and_spends_its_place() {
        let fixture = Fixture::new(Some((-1, true)));
        let (me, someone) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        assert_eq!(admit(&fixture, me, None).await.unwrap_err().code(), "ADMISSION_PASS_REQUIRED");
        let pass = fixture.pass_for(me, 7);
        assert_eq!(admit(&fixture, someone, Some(&pass)).await.unwrap_err().code(), "ADMISSION_PASS_INVALID");
        assert!(fixture.passes.spent.lock().unwrap().is_empty(), "a foreign pass never reaches the queue");

        assert_eq!(
            admit(&fixture, me, Some(&pass)).await.unwrap_err().code(),
            "ADMISSION_PASS_EXPIRED",
            "place 7 lapsed"
        );
        fixture.passes.good.lock().unwrap().push(7);
        assert_eq!(admit(&fixture, me, Some(&pass)).await.unwrap().max_seats_per_user, Some(2));
        assert_eq!(*fixture.passes.spent.lock().unwrap(), vec![7, 7]);
    }
}
