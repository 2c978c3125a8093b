pub mod booking;
pub mod event;
pub mod money;
pub mod notice;
pub mod onsale;
pub mod ticket;
pub mod user;
pub mod waitlist;
