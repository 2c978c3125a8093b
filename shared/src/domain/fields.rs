//! Checking request fields: every problem is collected, one message per
//! field, and reported together (the API answers a 400 that names each).

use std::collections::BTreeMap;

/// Field name → what is wrong with it; sorted so answers are stable.
pub type FieldErrors = BTreeMap<String, String>;

/// The domain's refusal of input: which fields broke which rule. How that
/// reaches a client (a 400 by field) is the HTTP layer's business.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid fields: {0:?}")]
pub struct Invalid(pub FieldErrors);

impl Invalid {
    pub fn field(field: &str, problem: &str) -> Self {
        Invalid(FieldErrors::from([(field.to_owned(), problem.to_owned())]))
    }
}

/// Collects one message per bad field instead of stopping at the first.
#[derive(Default)]
pub struct FieldCheck(FieldErrors);

impl FieldCheck {
    /// Runs `parse` on a required field; records "is required" or its error.
    pub fn required<T>(
        &mut self,
        field: &str,
        value: Option<&str>,
        parse: impl FnOnce(&str) -> Result<T, &'static str>,
    ) -> Option<T> {
        match value {
            None => {
                self.fail(field, "is required");
                None
            }
            Some(raw) => self.optional(field, Some(raw), parse),
        }
    }

    pub fn optional<T>(
        &mut self,
        field: &str,
        value: Option<&str>,
        parse: impl FnOnce(&str) -> Result<T, &'static str>,
    ) -> Option<T> {
        match parse(value?) {
            Ok(parsed) => Some(parsed),
            Err(problem) => {
                self.fail(field, problem);
                None
            }
        }
    }

    pub fn fail(&mut self, field: &str, problem: &str) {
        self.0.entry(field.to_owned()).or_insert_with(|| problem.to_owned());
    }

    pub fn finish(self) -> Result<(), Invalid> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Invalid(self.0))
        }
    }
}

/// `limit` (1–100, default 20) and `page` (1-based, default 1) of a list
/// endpoint; problems are recorded in `check`.
pub fn paging(check: &mut FieldCheck, param: &impl Fn(&str) -> Option<String>) -> (u32, u32) {
    let limit = check
        .optional("limit", param("limit").as_deref(), |raw| match raw.parse::<u32>() {
            Ok(n) if (1..=100).contains(&n) => Ok(n),
            _ => Err("must be an integer from 1 to 100"),
        })
        .unwrap_or(20);
    let page = check
        .optional("page", param("page").as_deref(), |raw| match raw.parse::<u32>() {
            Ok(n) if (1..=100_000).contains(&n) => Ok(n),
            _ => Err("must be an integer from 1 to 100000"),
        })
        .unwrap_or(1);
    (limit, page)
}
