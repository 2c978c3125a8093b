//! The booking behaviour suite (`shared::bookings::suite`) against the real
//! store of record and hold store: PostgreSQL and Redis. The same cases run
//! against the in-memory fakes in `cargo test -p shared`.

use shared::{
    bookings::suite::Backend,
    repo::{pg_bookings::PgBookings, redis_seats::RedisSeatBoard},
};

use crate::common;

async fn postgres_and_redis() -> Backend<PgBookings, RedisSeatBoard> {
    let state = common::state().await;
    let holds = state.seat_board().await.expect("redis");
    Backend::new(common::test_config(), state.booking_repo(), holds)
}

shared::booking_behaviour_suite!(postgres_and_redis, common::run);
