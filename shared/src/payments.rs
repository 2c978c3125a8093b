//! Payment providers. The real one would call a PSP; the local one follows
//! a documented test-card scheme so every path is testable:
//!
//! | card number        | outcome                                    |
//! |--------------------|--------------------------------------------|
//! | 4242 4242 4242 4242 | approved                                  |
//! | 4000 0000 0000 0002 | declined: `card_declined` (402)           |
//! | 4000 0000 0000 9995 | declined: `insufficient_funds` (402)      |
//! | 4000 0000 0000 0119 | provider error, retry later (503)         |
//! | any other valid (Luhn) number | approved                        |

use async_trait::async_trait;
use serde::Deserialize;
use uuid::Uuid;

use crate::{domain::money::Cents, error::ApiError};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PayRequest {
    pub payment_method: Option<PaymentMethodInput>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentMethodInput {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub card_number: Option<String>,
}

/// A card number that passed the Luhn check; only the last four digits are
/// ever stored or logged.
#[derive(Clone)]
pub struct CardNumber(String);

impl std::fmt::Debug for CardNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CardNumber(****{})", self.last4())
    }
}

impl CardNumber {
    pub fn parse(raw: &str) -> Result<CardNumber, &'static str> {
        let digits: String = raw.chars().filter(|c| *c != ' ' && *c != '-').collect();
        if !(12..=19).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err("must be 12 to 19 digits");
        }
        let sum: u32 = digits
            .bytes()
            .rev()
            .enumerate()
            .map(|(i, b)| {
                let d = u32::from(b - b'0');
                if i % 2 == 1 {
                    let doubled = d * 2;
                    if doubled > 9 {
                        doubled - 9
                    } else {
                        doubled
                    }
                } else {
                    d
                }
            })
            .sum();
        if !sum.is_multiple_of(10) {
            return Err("is not a valid card number");
        }
        Ok(CardNumber(digits))
    }

    pub fn last4(&self) -> &str {
        &self.0[self.0.len() - 4..]
    }
}

impl PayRequest {
    pub fn card(self) -> Result<CardNumber, ApiError> {
        let mut check = crate::domain::fields::FieldCheck::default();
        let Some(method) = self.payment_method else {
            return Err(ApiError::validation("paymentMethod", "is required"));
        };
        let kind = method.kind.as_deref().unwrap_or("card");
        if kind != "card" {
            check.fail("paymentMethod.type", "must be card");
        }
        let card = check.required("paymentMethod.cardNumber", method.card_number.as_deref(), CardNumber::parse);
        check.finish()?;
        Ok(card.expect("checked"))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Charge {
    Approved {
        reference: String,
    },
    Declined {
        code: &'static str,
    },
    /// The provider could not decide; the client may retry.
    Unavailable,
}

/// Money owed back for a booking. The booking id is the provider's
/// idempotency key: a booking is charged at most once, so asking twice (a
/// retry after a timeout, two sweepers) refunds once. `reference` is the
/// charge's, when its approval was recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub booking: Uuid,
    pub reference: Option<String>,
    pub amount: Cents,
}

#[async_trait]
pub trait PaymentProvider: Send + Sync {
    /// Charges `card`; `payment` is the idempotency key of this attempt.
    async fn charge(&self, payment: Uuid, amount: Cents, currency: &str, card: &CardNumber) -> Charge;
    /// Gives the money back; an error means "not done yet, ask again".
    async fn refund(&self, refund: &Refund) -> Result<(), ApiError>;
}

pub struct TestCardProvider;

#[async_trait]
impl PaymentProvider for TestCardProvider {
    async fn charge(&self, _payment: Uuid, _amount: Cents, _currency: &str, card: &CardNumber) -> Charge {
        match card.0.as_str() {
            "4000000000000002" => Charge::Declined { code: "card_declined" },
            "4000000000009995" => Charge::Declined { code: "insufficient_funds" },
            "4000000000000119" => Charge::Unavailable,
            _ => Charge::Approved { reference: format!("ch_local_{}", Uuid::new_v4().simple()) },
        }
    }

    async fn refund(&self, _refund: &Refund) -> Result<(), ApiError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_numbers_pass_luhn() {
        assert!(CardNumber::parse("4242 4242 4242 4242").is_ok());
        assert!(CardNumber::parse("4242424242424241").is_err());
        assert!(CardNumber::parse("abcd").is_err());
        assert_eq!(CardNumber::parse("4000000000000002").unwrap().last4(), "0002");
        assert!(!format!("{:?}", CardNumber::parse("4242424242424242").unwrap()).contains("42424242"));
    }

    #[tokio::test]
    async fn the_test_cards_cover_every_outcome() {
        let provider = &TestCardProvider;
        let charge = |number: &str| {
            let card = CardNumber::parse(number).unwrap();
            async move { provider.charge(Uuid::nil(), Cents(100), "USD", &card).await }
        };
        assert!(matches!(charge("4242424242424242").await, Charge::Approved { .. }));
        assert_eq!(charge("4000000000000002").await, Charge::Declined { code: "card_declined" });
        assert_eq!(charge("4000000000009995").await, Charge::Declined { code: "insufficient_funds" });
        assert_eq!(charge("4000000000000119").await, Charge::Unavailable);
    }
}
