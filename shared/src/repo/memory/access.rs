//! Accounts' roles and token versions in memory.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use async_trait::async_trait;
use uuid::Uuid;

use crate::{
    error::ApiError,
    repo::{AccessStore, AccountAccess},
};

#[derive(Clone, Default)]
pub struct MemoryAccess {
    accounts: Arc<Mutex<HashMap<Uuid, AccountAccess>>>,
    /// Lookups made, so tests can see the cache at work.
    pub reads: Arc<Mutex<u32>>,
}

impl MemoryAccess {
    pub fn put(&self, user: Uuid, access: AccountAccess) {
        super::locked(&self.accounts).insert(user, access);
    }

    pub fn remove(&self, user: Uuid) {
        super::locked(&self.accounts).remove(&user);
    }
}

#[async_trait]
impl AccessStore for MemoryAccess {
    async fn access(&self, user: Uuid) -> Result<Option<AccountAccess>, ApiError> {
        *super::locked(&self.reads) += 1;
        Ok(super::locked(&self.accounts).get(&user).copied())
    }

    async fn revoke_tokens(&self, user: Uuid) -> Result<Option<i64>, ApiError> {
        Ok(super::locked(&self.accounts).get_mut(&user).map(|access| {
            access.token_version += 1;
            access.token_version
        }))
    }
}
