//! Provider calls never run under a row lock, and money owed back is never
//! forgotten: refunds are a durable, retried state, driven with the booking
//! id as the provider's idempotency key.

use std::sync::{
    atomic::{AtomicU32, Ordering},
    Arc, Mutex,
};

use async_trait::async_trait;
use serde_json::json;
use shared::{
    domain::{money::Cents, user::Role},
    error::ApiError,
    payments::{CardNumber, Charge, PaymentProvider, Refund, TestCardProvider},
};
use uuid::Uuid;

use crate::common::{call, create_event, run, state_with, token_for, State};

/// The test cards, with refunds that fail `failures` times before they go
/// through, and a hook that runs while a charge is being decided.
#[derive(Clone, Default)]
struct Provider {
    failures: Arc<AtomicU32>,
    refunds: Arc<Mutex<Vec<Refund>>>,
    during_charge: Option<Arc<dyn Fn() -> futures::future::BoxFuture<'static, ()> + Send + Sync>>,
}

#[async_trait]
impl PaymentProvider for Provider {
    async fn charge(&self, payment: Uuid, amount: Cents, currency: &str, card: &CardNumber) -> Charge {
        if let Some(hook) = &self.during_charge {
            hook().await;
        }
        TestCardProvider.charge(payment, amount, currency, card).await
    }

    async fn refund(&self, refund: &Refund) -> Result<(), ApiError> {
        self.refunds.lock().unwrap().push(refund.clone());
        let failed = self.failures.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
        if failed {
            return Err(ApiError::Unavailable("provider timed out".into()));
        }
        Ok(())
    }
}

async fn with_provider(provider: &Provider) -> State {
    let mut state = state_with(|_| {}).await;
    state.payments = Box::new(provider.clone());
    state
}

async fn book(state: &State, token: &str, event: &str, label: &str) -> String {
    let body = json!({ "eventId": event, "seatIds": [format!("{event}_{label}")] });
    let (status, booked) = call(state, "POST", "/bookings", Some(token), Some(&body)).await;
    assert_eq!(status, 201, "{booked}");
    booked["data"]["id"].as_str().unwrap().to_owned()
}

fn card() -> serde_json::Value {
    json!({ "paymentMethod": { "type": "card", "cardNumber": "4242424242424242" } })
}

/// (status, refund attempts) of the booking's charge.
async fn payment_of(state: &State, booking: &str) -> (String, i32) {
    sqlx::query_as("SELECT status, refund_attempts FROM bookings_demo.payments WHERE booking_id = $1::uuid")
        .bind(booking)
        .fetch_one(state.pg())
        .await
        .unwrap()
}

/// Makes the booking's owed refund due now rather than after its back-off.
async fn refund_due_now(state: &State, booking: &str) {
    sqlx::query("UPDATE bookings_demo.payments SET refund_due_at = now() WHERE booking_id = $1::uuid")
        .bind(booking)
        .execute(state.pg())
        .await
        .unwrap();
}

#[test]
fn a_refund_the_provider_fails_twice_is_retried_until_it_is_done_once() {
    run(async {
        let provider = Provider { failures: Arc::new(AtomicU32::new(2)), ..Provider::default() };
        let state = with_provider(&provider).await;
        let event = create_event(&state, 10, 5).await;
        let token = token_for(&state, Uuid::new_v4(), Role::User);
        let booking = book(&state, &token, &event, "A1").await;
        assert_eq!(
            call(&state, "POST", &format!("/bookings/{}/pay", booking), Some(&token), Some(&card())).await.0,
            200
        );

        // The provider fails: the cancel stands, the refund stays owed.
        let (status, cancelled) =
            call(&state, "PUT", &format!("/bookings/{}/cancel", booking), Some(&token), None).await;
        assert_eq!((status, cancelled["data"]["status"].as_str()), (200, Some("CANCELLED")), "{cancelled}");
        assert_eq!(payment_of(&state, &booking).await, ("REFUND_PENDING".to_owned(), 1));
        // A retried cancel changes nothing and refunds nothing twice.
        assert_eq!(call(&state, "PUT", &format!("/bookings/{}/cancel", booking), Some(&token), None).await.0, 200);
        assert_eq!(provider.refunds.lock().unwrap().len(), 1);

        let bookings = state.bookings().await.unwrap();
        for expected in [("REFUND_PENDING", 2), ("REFUNDED", 2)] {
            refund_due_now(&state, &booking).await;
            bookings.refund_due(state.payments.as_ref()).await.unwrap();
            let (status, attempts) = payment_of(&state, &booking).await;
            assert_eq!((status.as_str(), attempts), expected);
        }
        let refunds = provider.refunds.lock().unwrap().clone();
        assert_eq!(refunds.len(), 3, "{refunds:?}");
        let booking_id = Uuid::parse_str(&booking).unwrap();
        assert!(refunds.iter().all(|r| r.booking == booking_id && r.amount == Cents(3000) && r.reference.is_some()));
        // Done is done: nothing is due any more.
        refund_due_now(&state, &booking).await;
        bookings.refund_due(state.payments.as_ref()).await.unwrap();
        assert_eq!(provider.refunds.lock().unwrap().len(), 3);
    });
}

/// The hold lapses while the provider decides. The provider call must not
/// sit inside the booking's row lock (the hook's own update of the booking
/// would wait for it), and the approved charge must go back.
#[test]
fn a_booking_that_lapses_while_the_provider_decides_is_refunded_not_confirmed() {
    run(async {
        let booking_slot: Arc<Mutex<Option<Uuid>>> = Arc::default();
        let blocked = Arc::new(AtomicU32::new(0));
        let pg = crate::common::state().await.pg().clone();
        let hook = {
            let (booking_slot, blocked) = (booking_slot.clone(), blocked.clone());
            Arc::new(move || {
                let (booking, blocked, pg) = (*booking_slot.lock().unwrap(), blocked.clone(), pg.clone());
                Box::pin(async move {
                    let lapse = sqlx::query(
                        "UPDATE bookings_demo.bookings SET expires_at = now() - interval '1 second' WHERE id = $1",
                    )
                    .bind(booking)
                    .execute(&pg);
                    if tokio::time::timeout(std::time::Duration::from_secs(3), lapse).await.is_err() {
                        blocked.fetch_add(1, Ordering::SeqCst);
                    }
                }) as futures::future::BoxFuture<'static, ()>
            }) as Arc<dyn Fn() -> futures::future::BoxFuture<'static, ()> + Send + Sync>
        };
        let provider = Provider { during_charge: Some(hook), ..Provider::default() };
        let state = with_provider(&provider).await;
        let event = create_event(&state, 10, 5).await;
        let token = token_for(&state, Uuid::new_v4(), Role::User);
        let booking = book(&state, &token, &event, "A2").await;
        *booking_slot.lock().unwrap() = Some(Uuid::parse_str(&booking).unwrap());

        let (status, body) =
            call(&state, "POST", &format!("/bookings/{}/pay", booking), Some(&token), Some(&card())).await;
        assert_eq!(blocked.load(Ordering::SeqCst), 0, "the charge ran while the booking's row was locked");
        assert_eq!(status, 409, "{body}");
        assert!(body["error"]["message"].as_str().unwrap().contains("EXPIRED"), "{body}");
        assert_eq!(payment_of(&state, &booking).await.0, "REFUNDED");
        assert_eq!(provider.refunds.lock().unwrap().len(), 1);
    });
}
