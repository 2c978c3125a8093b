//! Who may do what, decided against the store rather than the token alone.
//!
//! A token says who signed in and with which role; the account may have been
//! demoted, deleted or logged out since. Every authenticated call checks the
//! account's token version (a role change or a logout raises it, refusing
//! older tokens), and every privileged call (admin, door staff) also takes the
//! role from the store and needs the account to exist. Each instance caches
//! what it read for `ACCESS_CACHE_MS` (5 s by default): that is the longest a
//! demoted admin, or a logged-out token, keeps working on an instance that
//! read the account just before the change (the instance that made the
//! change forgets its entry at once).
//!
//! Fans' tokens for ids the store does not know are let through: accounts
//! are never deleted, and the load tools mint tokens for made-up fans. A
//! missing account only matters where the role does, and there it is a 401.

use std::time::Duration;

use uuid::Uuid;

use crate::{
    auth::Claims,
    domain::user::Role,
    error::ApiError,
    repo::{AccessStore, AccountAccess},
};

/// What a call needs of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Any signed-in account whose token was not revoked.
    Account,
    /// Door staff or an admin, per the store.
    Staff,
    /// An admin, per the store.
    Admin,
}

/// Accounts kept at most; past it the least used are evicted one at a time,
/// so a flood of made-up ids neither grows an instance's memory nor empties
/// the cache of the accounts signing in.
const MAX_ENTRIES: u64 = 10_000;

/// Accounts' access as this instance last read it.
pub struct AccessCache {
    /// `None` when the cache is off (a zero time to live).
    entries: Option<moka::sync::Cache<Uuid, Option<AccountAccess>>>,
}

impl AccessCache {
    pub fn new(ttl: Duration) -> Self {
        let entries =
            (!ttl.is_zero()).then(|| moka::sync::Cache::builder().max_capacity(MAX_ENTRIES).time_to_live(ttl).build());
        AccessCache { entries }
    }

    /// Drops what this instance knows of `user` (after changing it here).
    pub fn forget(&self, user: Uuid) {
        if let Some(entries) = &self.entries {
            entries.invalidate(&user);
        }
    }

    async fn lookup(&self, store: &dyn AccessStore, user: Uuid) -> Result<Option<AccountAccess>, ApiError> {
        if let Some(access) = self.entries.as_ref().and_then(|entries| entries.get(&user)) {
            return Ok(access);
        }
        let access = store.access(user).await?;
        if let Some(entries) = &self.entries {
            entries.insert(user, access);
        }
        Ok(access)
    }
}

/// The caller's claims if the store allows `need`, with the role the store
/// holds (not the one the token was issued with).
pub async fn authorize(
    store: &dyn AccessStore,
    cache: &AccessCache,
    claims: Claims,
    need: Need,
) -> Result<Claims, ApiError> {
    // A token that does not even claim the role is refused without asking
    // the store: most callers of a privileged route are fans.
    if !allows(need, claims.role) {
        return Err(forbidden(need));
    }
    let access = cache.lookup(store, claims.sub).await?;
    let Some(access) = access else {
        return match need {
            Need::Account => Ok(claims),
            Need::Staff | Need::Admin => Err(ApiError::Unauthorized("This account no longer exists".into())),
        };
    };
    if claims.ver < access.token_version {
        return Err(ApiError::Unauthorized("Token has been revoked; sign in again".into()));
    }
    if !allows(need, access.role) {
        return Err(forbidden(need));
    }
    Ok(Claims { role: access.role, ..claims })
}

fn allows(need: Need, role: Role) -> bool {
    match need {
        Need::Account => true,
        Need::Staff => matches!(role, Role::Staff | Role::Admin),
        Need::Admin => role == Role::Admin,
    }
}

fn forbidden(need: Need) -> ApiError {
    ApiError::Forbidden(match need {
        Need::Staff => "Door staff or administrator role required".into(),
        _ => "Administrator role required".into(),
    })
}

/// Revokes every token of the caller's account (logout signs out every
/// device: tokens are not tracked one by one).
pub async fn logout(store: &dyn AccessStore, cache: &AccessCache, claims: &Claims) -> Result<(), ApiError> {
    store.revoke_tokens(claims.sub).await?;
    cache.forget(claims.sub);
    tracing::info!(user.id = %claims.sub, "logged out: tokens revoked");
    Ok(())
}

/// After a role change or a password reset: the account's older tokens
/// stop working, and this instance stops trusting what it read.
pub async fn revoke_all_tokens(store: &dyn AccessStore, cache: &AccessCache, user: Uuid) -> Result<(), ApiError> {
    store.revoke_tokens(user).await?;
    cache.forget(user);
    Ok(())
}

/// `PUT /users/{id}/role`: the change, then the account's older tokens
/// revoked, so neither a demoted admin nor a promoted fan acts on a token
/// that names the old role (the promoted one signs in again).
pub async fn set_role(
    users: &dyn crate::repo::UserStore,
    store: &dyn AccessStore,
    cache: &AccessCache,
    admin: &Claims,
    user: Uuid,
    change: crate::accounts::RoleChange,
) -> Result<crate::domain::user::User, ApiError> {
    let changed = crate::accounts::set_role(users, admin, user, change).await?;
    revoke_all_tokens(store, cache, user).await?;
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{auth::JwtKeys, config::Secret, domain::user::Tier, repo::memory::MemoryAccess};

    fn claims(user: Uuid, role: Role, ver: i64) -> Claims {
        let keys = JwtKeys::new(&Secret::new("x".repeat(40)), Duration::from_secs(60), "i", "a");
        Claims { ver, ..keys.claims(user, "a@b.co", role, Tier::Regular, 0, 60) }
    }

    #[tokio::test]
    async fn the_store_decides_the_role_and_a_raised_version_revokes() {
        let store = MemoryAccess::default();
        let cache = AccessCache::new(Duration::ZERO);
        let admin = Uuid::new_v4();
        store.put(admin, AccountAccess { role: Role::Admin, token_version: 0 });
        let token = claims(admin, Role::Admin, 0);
        assert!(authorize(&store, &cache, token.clone(), Need::Admin).await.is_ok());

        // Demoted: the token still says admin; the store says otherwise.
        store.put(admin, AccountAccess { role: Role::User, token_version: 0 });
        assert_eq!(authorize(&store, &cache, token.clone(), Need::Admin).await.unwrap_err().status(), 403);
        let as_fan = authorize(&store, &cache, token.clone(), Need::Account).await.unwrap();
        assert_eq!(as_fan.role, Role::User);

        logout(&store, &cache, &token).await.unwrap();
        for need in [Need::Account, Need::Staff, Need::Admin] {
            assert_eq!(authorize(&store, &cache, token.clone(), need).await.unwrap_err().status(), 401);
        }
        assert!(authorize(&store, &cache, claims(admin, Role::User, 1), Need::Account).await.is_ok());
    }

    #[tokio::test]
    async fn privileged_calls_need_an_account_and_fans_do_not() {
        let (store, cache) = (MemoryAccess::default(), AccessCache::new(Duration::ZERO));
        let ghost = Uuid::new_v4();
        assert_eq!(
            authorize(&store, &cache, claims(ghost, Role::Admin, 0), Need::Admin).await.unwrap_err().status(),
            401
        );
        assert_eq!(
            authorize(&store, &cache, claims(ghost, Role::Staff, 0), Need::Staff).await.unwrap_err().status(),
            401
        );
        assert!(authorize(&store, &cache, claims(ghost, Role::User, 0), Need::Account).await.is_ok());
    }

    #[tokio::test]
    async fn the_cache_bounds_reads_and_forgets_what_this_instance_changed() {
        let store = MemoryAccess::default();
        let cache = AccessCache::new(Duration::from_secs(60));
        let staff = Uuid::new_v4();
        store.put(staff, AccountAccess { role: Role::Staff, token_version: 0 });
        for _ in 0..5 {
            authorize(&store, &cache, claims(staff, Role::Staff, 0), Need::Staff).await.unwrap();
        }
        assert_eq!(*store.reads.lock().unwrap(), 1, "one read per account per cache period");
        revoke_all_tokens(&store, &cache, staff).await.unwrap();
        let err = authorize(&store, &cache, claims(staff, Role::Staff, 0), Need::Staff).await.unwrap_err();
        assert_eq!(err.status(), 401, "the instance that made the change does not wait out its cache");
    }
}
