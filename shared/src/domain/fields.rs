//! Checking request fields: every problem is collected, one message per
//! field, and reported together as a 400 that names each field.

use crate::error::{ApiError, FieldErrors};

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

    pub fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.0))
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
