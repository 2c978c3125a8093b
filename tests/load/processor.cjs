// Helpers for booking-flow.yml: a fresh buyer per virtual user, and one
// random seat from the available ones (every buyer taking the first free
// seat would only measure 409s).
const crypto = require("node:crypto");

function newBuyer(context, events, done) {
  context.vars.email = `load-${crypto.randomUUID()}@example.test`;
  context.vars.password = crypto.randomBytes(12).toString("hex");
  return done();
}

function pickSeat(context, events, done) {
  const seats = Array.isArray(context.vars.seats) ? context.vars.seats : [];
  const seat = seats[Math.floor(Math.random() * seats.length)];
  context.vars.seatId = seat ? seat.id : "none";
  return done();
}

module.exports = { newBuyer, pickSeat };
