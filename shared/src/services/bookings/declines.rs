//! Card testing: a fraudster with a list of stolen card numbers tries them
//! one after another against a cheap booking, a new Idempotency-Key each
//! time, to learn which are live. Declines are counted per booking, per fan
//! and per client address; once a budget is spent, paying answers 429 with
//! Retry-After until its window ends, before the provider is asked.
//!
//! What it costs an honest fan: with the defaults, a fan whose card is
//! declined five times on one booking waits out the hour for that booking
//! (its hold lapses long before), and ten declines an hour stop their
//! payments everywhere; the address budget is wide enough for a household
//! or an office behind one address.

use std::{future::Future, time::Duration};

use uuid::Uuid;

use crate::{
    config::Config,
    domain::booking::Booking,
    error::ApiError,
    repo::{DeclineCounter, DeclineLimit},
};

const WINDOW: Duration = Duration::from_secs(60 * 60);

pub struct CardTestingGuard<'a> {
    pub counter: Box<dyn DeclineCounter + 'a>,
    pub config: &'a Config,
}

impl CardTestingGuard<'_> {
    /// The budgets a payment of `booking` by `fan` from `client` draws on;
    /// a limit of 0 is off.
    fn limits(&self, fan: Uuid, booking: Uuid, client: &str) -> Vec<DeclineLimit> {
        let budgets = [
            (format!("declines:{{{fan}}}:booking:{booking}"), self.config.declines_per_booking),
            (format!("declines:{{{fan}}}:fan"), self.config.declines_per_fan_per_hour),
            (format!("declines:{{ip:{client}}}"), self.config.declines_per_ip_per_hour),
        ];
        budgets
            .into_iter()
            .filter(|(_, max)| *max > 0)
            .map(|(key, max)| DeclineLimit { key, max, window: WINDOW })
            .collect()
    }

    /// Runs `attempt` (the payment) unless a budget is spent, and counts it
    /// if the card was declined.
    pub async fn pay(
        &self,
        fan: Uuid,
        booking: Uuid,
        client: &str,
        attempt: impl Future<Output = Result<Booking, ApiError>>,
    ) -> Result<Booking, ApiError> {
        let limits = self.limits(fan, booking, client);
        if let Some(retry_after) = self.counter.wait(&limits).await? {
            tracing::warn!(booking.id = %booking, client, "payment refused after repeated declines");
            return Err(ApiError::TooManyRequests { retry_after });
        }
        let result = attempt.await;
        if matches!(result, Err(ApiError::PaymentRequired(_))) {
            self.counter.declined(&limits).await?;
        }
        result
    }
}
