pub mod booking;
pub mod event;
pub mod money;
pub mod onsale;
pub mod ticket;
pub mod user;
