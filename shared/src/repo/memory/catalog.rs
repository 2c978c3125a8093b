//! Events in memory.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

use async_trait::async_trait;

use super::locked;
use crate::{
    domain::event::{Event, EventId},
    error::ApiError,
    repo::{EventCatalog, EventQuery},
};

/// Events kept in memory.
#[derive(Clone, Default)]
pub struct MemoryCatalog {
    events: Arc<Mutex<BTreeMap<EventId, Event>>>,
}

#[async_trait]
impl EventCatalog for MemoryCatalog {
    async fn insert(&self, event: &Event) -> Result<bool, ApiError> {
        let mut events = locked(&self.events);
        if events.contains_key(&event.id) {
            return Ok(false);
        }
        events.insert(event.id.clone(), event.clone());
        Ok(true)
    }

    async fn get(&self, id: &EventId) -> Result<Option<Event>, ApiError> {
        Ok(locked(&self.events).get(id).cloned())
    }

    async fn list(&self, query: &EventQuery) -> Result<(Vec<Event>, u64), ApiError> {
        let events = locked(&self.events);
        let matching: Vec<&Event> = events
            .values()
            .filter(|e| query.category.as_ref().is_none_or(|c| &e.category == c))
            .filter(|e| query.from.is_none_or(|from| e.date >= from) && query.to.is_none_or(|to| e.date <= to))
            .collect();
        let page = matching.iter().skip(query.offset as usize).take(query.limit as usize).map(|e| (*e).clone());
        Ok((page.collect(), matching.len() as u64))
    }
}
