//! The notification ledger in memory: the same answers the PostgreSQL
//! adapter gives (tests/tests/api/notifications.rs checks those against the
//! real table).

use std::{collections::HashMap, sync::Mutex, time::Duration};

use async_trait::async_trait;
use tokio::time::Instant;
use uuid::Uuid;

use super::locked;
use crate::{
    domain::notice::NoticeKind,
    error::ApiError,
    repo::{NoticeClaim, NoticeEnd, NoticeLedger},
};

/// (state, lease end, attempt) of one notice.
type LedgerRow = (&'static str, Instant, i32);

#[derive(Default)]
pub struct MemoryLedger {
    rows: Mutex<HashMap<(Uuid, NoticeKind), LedgerRow>>,
}

#[async_trait]
impl NoticeLedger for MemoryLedger {
    async fn claim(&self, booking: Uuid, kind: NoticeKind, lease: Duration) -> Result<NoticeClaim, ApiError> {
        let mut rows = locked(&self.rows);
        let now = Instant::now();
        let row = rows.entry((booking, kind)).or_insert(("RETRY", now, 0));
        let (state, lease_end, attempt) = *row;
        Ok(if state == "RETRY" || (state == "SENDING" && lease_end <= now) {
            *row = ("SENDING", now + lease, attempt + 1);
            NoticeClaim::Ours { attempt: attempt + 1 }
        } else if state == "SENDING" {
            NoticeClaim::Busy
        } else {
            NoticeClaim::Done
        })
    }

    async fn settle(&self, booking: Uuid, kind: NoticeKind, attempt: i32, end: NoticeEnd<'_>) -> Result<(), ApiError> {
        let state = match end {
            NoticeEnd::Sent { .. } => "SENT",
            NoticeEnd::Refused { .. } => "REFUSED",
            NoticeEnd::Skipped(_) => "SKIPPED",
            NoticeEnd::Retry(_) => "RETRY",
        };
        let mut rows = locked(&self.rows);
        if let Some(row) = rows.get_mut(&(booking, kind)).filter(|row| row.0 == "SENDING" && row.2 == attempt) {
            row.0 = state;
        }
        Ok(())
    }
}
