//! Registration and login: the auth service's domain, free of HTTP and of any
//! particular store.

use serde::Serialize;

use crate::{
    auth::{JwtKeys, PasswordHasherService},
    domain::user::{Email, LoginRequest, NewUser, RegisterRequest, User, MAX_PASSWORD_CHARS},
    error::ApiError,
    repo::{LoginThrottle, UserStore},
};

pub async fn register(
    users: &dyn UserStore,
    hasher: &PasswordHasherService,
    request: RegisterRequest,
) -> Result<User, ApiError> {
    let new_user = NewUser::try_from(request)?;
    let hash = hasher.hash(&new_user.password).await?;
    let user = users.insert(&new_user, &hash).await?;
    tracing::info!(user.id = %user.id, "user registered");
    Ok(user)
}

#[derive(Debug, Serialize)]
pub struct LoginSuccess {
    pub user: LoginUser,
    pub token: String,
}

/// The user as the login response shows it (the original's shape).
#[derive(Debug, Serialize)]
pub struct LoginUser {
    pub id: uuid::Uuid,
    pub email: String,
    pub name: String,
    pub tier: crate::domain::user::Tier,
    pub role: crate::domain::user::Role,
}

fn invalid_credentials() -> ApiError {
    ApiError::Unauthorized("Invalid email or password".into())
}

pub async fn login(
    users: &dyn UserStore,
    throttle: &dyn LoginThrottle,
    hasher: &PasswordHasherService,
    keys: &JwtKeys,
    request: LoginRequest,
    client: &str,
) -> Result<LoginSuccess, ApiError> {
    let mut check = crate::domain::fields::FieldCheck::default();
    let email = check.required("email", request.email.as_deref(), Email::parse);
    let password = check.required("password", request.password.as_deref(), |p| {
        if p.is_empty() {
            Err("is required")
        } else {
            Ok(p.to_owned())
        }
    });
    check.finish()?;
    let (email, password) = (email.expect("checked"), password.expect("checked"));

    if let Some(retry_after) = throttle.attempt(&email, client).await? {
        return Err(ApiError::TooManyRequests { retry_after });
    }
    // A password longer than any we accept at registration cannot match; skip
    // hashing it so nobody can make us burn CPU on huge inputs.
    let credentials = users.find_by_email(&email).await?;
    let matched = password.chars().count() <= MAX_PASSWORD_CHARS
        && hasher.verify(&password, credentials.as_ref().map(|c| c.password_hash.as_str())).await?;
    let user = match (matched, credentials) {
        (true, Some(credentials)) => credentials.user,
        _ => {
            tracing::info!(client, "login failed");
            return Err(invalid_credentials());
        }
    };
    throttle.succeeded(&email, client).await?;
    // The token starts at the account's current version: older tokens stay
    // revoked, this one lives until the next role change or logout.
    let version = access.access(user.id).await?.map_or(0, |a| a.token_version);
    let token = keys.issue_versioned(user.id, &user.email, user.role, user.tier, version)?;
    Ok(LoginSuccess {
        user: LoginUser { id: user.id, email: user.email, name: user.name, tier: user.tier, role: user.role },
        token,
    })
}

/// The body of `PUT /users/{id}/role`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleChange {
    pub role: Option<String>,
}

pub fn parse_user_id(raw: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(raw).map_err(|_| ApiError::validation("id", "is not a valid user id"))
}

/// An admin gives a user a role. An admin cannot change their own: the last
/// admin could otherwise lock everyone out of the back office.
pub async fn set_role(
    users: &dyn UserStore,
    admin: &crate::auth::Claims,
    user: uuid::Uuid,
    change: RoleChange,
) -> Result<User, ApiError> {
    let role = match change.role.as_deref() {
        Some("user") => crate::domain::user::Role::User,
        Some("staff") => crate::domain::user::Role::Staff,
        Some("admin") => crate::domain::user::Role::Admin,
        Some(_) => return Err(ApiError::validation("role", "must be one of user, staff, admin")),
        None => return Err(ApiError::validation("role", "is required")),
    };
    if user == admin.sub {
        return Err(ApiError::conflict("Administrators cannot change their own role"));
    }
    let changed = users.set_role(user, role).await?.ok_or_else(|| ApiError::NotFound("User not found".into()))?;
    tracing::info!(user.id = %user, by = %admin.sub, role = ?role, "role changed");
    Ok(changed)
}
    access: &dyn crate::repo::AccessStore,
