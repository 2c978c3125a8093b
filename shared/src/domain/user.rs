//! Users: parsed, validated value types. A `NewUser` can only be built from
//! input that passed every rule, so the store never sees an unchecked field.

use std::{fmt, str::FromStr};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::fields::{FieldCheck, Invalid};

pub const MIN_PASSWORD_CHARS: usize = 8;
/// Long enough for any passphrase, short enough that nobody can make us hash
/// a megabyte.
pub const MAX_PASSWORD_CHARS: usize = 128;
const MAX_NAME_CHARS: usize = 100;
const MAX_EMAIL_CHARS: usize = 254;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    /// Door staff: checks tickets in, nothing else an admin may do.
    Staff,
    Admin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    #[default]
    Regular,
    Premium,
    Vip,
}

impl FromStr for Tier {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "regular" => Ok(Tier::Regular),
            "premium" => Ok(Tier::Premium),
            "vip" => Ok(Tier::Vip),
            _ => Err(()),
        }
    }
}

/// A syntactically valid, lower-cased email address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Email, &'static str> {
        let normalised = raw.trim().to_lowercase();
        if normalised.is_empty() {
            return Err("is required");
        }
        if normalised.chars().count() > MAX_EMAIL_CHARS {
            return Err("must be at most 254 characters");
        }
        if !validator::ValidateEmail::validate_email(&normalised) {
            return Err("must be a valid email address");
        }
        Ok(Email(normalised))
    }
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An E.164 phone number: `+`, then 8 to 15 digits, the first not zero.
fn parse_phone(raw: &str) -> Result<String, &'static str> {
    let phone: String = raw.chars().filter(|c| !matches!(c, ' ' | '-' | '(' | ')')).collect();
    let digits = phone.strip_prefix('+').ok_or("must be in E.164 format, e.g. +14155550100")?;
    let valid =
        (8..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()) && !digits.starts_with('0');
    if valid {
        Ok(phone)
    } else {
        Err("must be in E.164 format, e.g. +14155550100")
    }
}

fn parse_name(raw: &str) -> Result<String, &'static str> {
    let name = raw.trim();
    if name.is_empty() {
        return Err("is required");
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err("must be at most 100 characters");
    }
    if name.chars().any(char::is_control) {
        return Err("must not contain control characters");
    }
    Ok(name.to_owned())
}

/// A new password (registration, reset): the same bounds everywhere.
pub fn check_password(raw: &str) -> Result<(), &'static str> {
    match raw.chars().count() {
        n if n < MIN_PASSWORD_CHARS => Err("must be at least 8 characters"),
        n if n > MAX_PASSWORD_CHARS => Err("must be at most 128 characters"),
        _ => Ok(()),
    }
}

/// The body of `POST /auth/register` as sent; every field optional so that
/// validation can report all missing fields at once.
#[derive(Debug, Default, Deserialize)]
pub struct RegisterRequest {
    pub email: Option<String>,
    pub name: Option<String>,
    pub password: Option<String>,
    pub phone: Option<String>,
    pub tier: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: Email,
    pub name: String,
    pub password: String,
    pub phone: Option<String>,
    pub tier: Tier,
    pub role: Role,
}

impl TryFrom<RegisterRequest> for NewUser {
    type Error = Invalid;

    fn try_from(req: RegisterRequest) -> Result<Self, Invalid> {
        let mut check = FieldCheck::default();
        let email = check.required("email", req.email.as_deref(), Email::parse);
        let name = check.required("name", req.name.as_deref(), parse_name);
        let password = check.required("password", req.password.as_deref(), |p| check_password(p).map(|_| p.to_owned()));
        let phone = check.optional("phone", req.phone.as_deref(), parse_phone);
        let tier = check
            .optional("tier", req.tier.as_deref(), |t| {
                t.parse::<Tier>().map_err(|_| "must be one of regular, premium, vip")
            })
            .unwrap_or_default();
        check.finish()?;
        Ok(NewUser {
            email: email.expect("checked"),
            name: name.expect("checked"),
            password: password.expect("checked"),
            phone,
            tier,
            role: Role::User,
        })
    }
}

/// A user as the API shows it: never the password hash.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub phone: Option<String>,
    pub tier: Tier,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Default, Deserialize)]
pub struct LoginRequest {
    pub email: Option<String>,
    pub password: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn register(body: serde_json::Value) -> Result<NewUser, Invalid> {
        NewUser::try_from(serde_json::from_value::<RegisterRequest>(body).unwrap())
    }

    fn bad_fields(err: Invalid) -> Vec<String> {
        err.0.into_keys().collect()
    }

    #[test]
    fn valid_registration_is_normalised() {
        let user = register(serde_json::json!({
            "email": "  Alice@Example.COM ", "name": " Alice ", "password": "s3cret-pass", "phone": "+1 415-555-0100"
        }))
        .unwrap();
        assert_eq!(user.email.as_ref(), "alice@example.com");
        assert_eq!(user.name, "Alice");
        assert_eq!(user.phone.as_deref(), Some("+14155550100"));
        assert_eq!(user.tier, Tier::Regular);
        assert_eq!(user.role, Role::User);
    }

    #[test]
    fn every_missing_field_is_named() {
        assert_eq!(bad_fields(register(serde_json::json!({})).unwrap_err()), ["email", "name", "password"]);
    }

    #[test]
    fn every_invalid_field_is_named() {
        let err = register(serde_json::json!({
            "email": "not-an-email", "name": "\u{0007}", "password": "short", "phone": "12345", "tier": "gold"
        }))
        .unwrap_err();
        assert_eq!(bad_fields(err), ["email", "name", "password", "phone", "tier"]);
    }

    #[test]
    fn passwords_have_both_bounds() {
        assert!(check_password("12345678").is_ok());
        assert!(check_password("1234567").is_err());
        assert!(check_password(&"x".repeat(129)).is_err());
        // Length counts characters, not bytes.
        assert!(check_password("ääääääää").is_ok());
    }

    #[test]
    fn phones_must_be_e164() {
        assert!(parse_phone("+442071838750").is_ok());
        for bad in ["442071838750", "+0123456789", "+12", "+1234567890123456", "+1-800-FLOWERS"] {
            assert!(parse_phone(bad).is_err(), "{bad}");
        }
    }
}
