pub mod booking;
pub mod event;
pub mod money;
pub mod user;
