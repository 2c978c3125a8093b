//! Door staff per event: an admin assigns staff accounts to the events whose
//! tickets they may admit, and the door asks before every scan. A staff
//! role alone admits nothing: with it any gate worker could use up the
//! tickets of every event the box office sells.

use serde::Serialize;
use uuid::Uuid;

use crate::{
    auth::Claims,
    domain::{event::EventId, user::Role},
    error::ApiError,
    repo::{EventCatalog, EventStaff, UserStore},
};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Assignment {
    pub event_id: String,
    pub user_id: Uuid,
    /// False when the account was already assigned (PUT is idempotent).
    pub created: bool,
}

pub fn parse_user_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::validation("userId", "is not a valid user id"))
}

/// `PUT /events/{id}/staff/{userId}` (admin).
pub async fn assign(
    users: &dyn UserStore,
    catalog: &dyn EventCatalog,
    staff: &dyn EventStaff,
    admin: &Claims,
    event: &EventId,
    user: Uuid,
) -> Result<Assignment, ApiError> {
    if catalog.get(event).await?.is_none() {
        return Err(ApiError::NotFound("Event not found".into()));
    }
    let account = users.find_by_id(user).await?.ok_or_else(|| ApiError::NotFound("User not found".into()))?;
    if account.user.role == Role::User {
        return Err(ApiError::refused(
            http::StatusCode::CONFLICT,
            "NOT_STAFF",
            "Only door staff can be assigned to an event; give the account the staff role first",
        ));
    }
    let created = staff.assign(event, user, admin.sub).await?;
    tracing::info!(event.id = %event, user.id = %user, by = %admin.sub, created, "door staff assigned");
    Ok(Assignment { event_id: event.to_string(), user_id: user, created })
}

/// `DELETE /events/{id}/staff/{userId}` (admin): idempotent.
pub async fn unassign(staff: &dyn EventStaff, admin: &Claims, event: &EventId, user: Uuid) -> Result<(), ApiError> {
    let removed = staff.remove(event, user).await?;
    tracing::info!(event.id = %event, user.id = %user, by = %admin.sub, removed, "door staff unassigned");
    Ok(())
}

/// Whether `caller` may admit tickets at `event`'s doors: admins anywhere,
/// staff only where assigned.
pub async fn may_admit(staff: &dyn EventStaff, caller: &Claims, event: &EventId) -> Result<(), ApiError> {
    match caller.role {
        Role::Admin => Ok(()),
        Role::Staff if staff.is_assigned(event, caller.sub).await? => Ok(()),
        Role::Staff => {
            Err(ApiError::refused(http::StatusCode::FORBIDDEN, "NOT_ASSIGNED", "You are not door staff for this event"))
        }
        Role::User => Err(ApiError::Forbidden("Door staff or administrator role required".into())),
    }
}
