// The on-sale waiting room as a fan meets it: a box on the event page while
// the event's on-sale has a queue, and a queue page that asks for the fan's
// place as often as the server's Retry-After says, until the fan is let in.
// The admission pass is kept for this tab (sessionStorage) and sent with the
// booking; the server checks it is this fan's, for this event, and fresh.

import { useEffect, useState } from "preact/hooks";
import { api, ApiError, Line, QueuePlace, Session } from "./api";

const PLACE_KEY = (eventId: string) => `box-office.queue.${eventId}`;

interface Admission { token: string; pass?: string; expiresAt?: string }

function stored(eventId: string): Admission | null {
  try {
    return JSON.parse(sessionStorage.getItem(PLACE_KEY(eventId)) ?? "null");
  } catch {
    return null;
  }
}

function store(eventId: string, admission: Admission | null) {
  if (admission) sessionStorage.setItem(PLACE_KEY(eventId), JSON.stringify(admission));
  else sessionStorage.removeItem(PLACE_KEY(eventId));
}

/// The pass to book with, if this tab was let in and it has not lapsed.
export function admissionPass(eventId: string): string | undefined {
  const admission = stored(eventId);
  if (!admission?.pass || !admission.expiresAt) return undefined;
  return Date.parse(admission.expiresAt) > Date.now() ? admission.pass : undefined;
}

/// The event's waiting room, if its on-sale has one: `null` otherwise.
export function useLine(eventId: string): Line | null {
  const [line, setLine] = useState<Line | null>(null);
  useEffect(() => {
    api.line(eventId).then((l) => setLine(l.queueEnabled ? l : null), () => setLine(null));
  }, [eventId]);
  return line;
}

/// On the event page: join the queue, or go back to your place, or book
/// with the pass you have.
export function QueueBox({ eventId, line, user }: { eventId: string; line: Line; user: Session | null }) {
  const [error, setError] = useState<string | null>(null);
  const pass = admissionPass(eventId);
  const admission = stored(eventId);
  const join = async () => {
    setError(null);
    try {
      const place = await api.joinQueue(eventId);
      store(eventId, { token: place.token });
      location.hash = `#/queue/${encodeURIComponent(eventId)}/${encodeURIComponent(place.token)}`;
    } catch (e) {
      setError(e instanceof ApiError ? e.message : "The queue cannot be joined right now.");
    }
  };
  const opens = new Date(line.opensAt);
  return (
    <div class="queue-box" data-testid="queue-box">
      {pass ? (
        <><strong>You're in.</strong> Pick your seats; your pass lasts until {new Date(admission!.expiresAt!).toLocaleTimeString("en-GB")}.</>
      ) : line.soldOut ? (
        <><strong>Sold out.</strong> Every seat of this on-sale has gone.</>
      ) : (
        <>
          <strong>This on-sale has a waiting room.</strong>{" "}
          {opens > new Date() ? `It opens ${opens.toLocaleString("en-GB")}; join now and your place is drawn at random then. ` : `${line.inLine} in line. `}
          {!user ? <a href={`#/login/events/${encodeURIComponent(eventId)}`}>Log in to join the queue.</a>
            : admission ? <a href={`#/queue/${encodeURIComponent(eventId)}/${encodeURIComponent(admission.token)}`}>See your place in the queue</a>
            : <button onClick={join}>Join the queue</button>}
        </>
      )}
      {error && <p class="alert" role="alert">{error}</p>}
    </div>
  );
}

/// The queue page: your place, how many are ahead and roughly how long,
/// asked again when the server says to; once you are let in, back to the
/// seat map with the pass.
export function QueuePage({ eventId, token }: { eventId: string; token: string }) {
  const [place, setPlace] = useState<QueuePlace | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let stopped = false;
    let timer: number | undefined;
    const ask = async () => {
      let wait = 3;
      try {
        const next = await api.queuePlace(token);
        if (stopped) return;
        setPlace(next);
        setError(null);
        wait = next.retryAfterSeconds;
        if (next.state === "admitted" && next.admissionPass) {
          store(eventId, { token, pass: next.admissionPass, expiresAt: next.passExpiresAt ?? undefined });
          return; // let in: nothing more to ask
        }
        if (next.state === "soldOut" || next.state === "lapsed") {
          store(eventId, null);
          return;
        }
      } catch (e) {
        if (!stopped) setError(e instanceof ApiError ? e.message : "Lost the connection; still in line, retrying.");
      }
      if (!stopped) timer = window.setTimeout(ask, Math.max(1, wait) * 1000);
    };
    ask();
    return () => {
      stopped = true;
      window.clearTimeout(timer);
    };
  }, [eventId, token]);
  const back = `#/events/${encodeURIComponent(eventId)}`;
  return (
    <section class="narrow" data-testid="queue-page">
      <h1>Waiting room</h1>
      {error && <p class="alert" role="alert">{error}</p>}
      {!place ? <p>Finding your place…</p>
        : place.state === "preQueue" ? (
          <p>The sale opens {new Date(place.opensAt).toLocaleString("en-GB")}. Everyone who joins before then gets a
            random place at the opening, so there is no need to refresh. Keep this page open.</p>
        ) : place.state === "waiting" ? (
          <>
            <p class="queue-position">You are <strong data-testid="queue-position">number {place.position}</strong> in line
              ({place.ahead} ahead of you).</p>
            {place.estimatedWaitSeconds != null && <p class="hint">At most about {Math.ceil(place.estimatedWaitSeconds / 60)} min. Keep this page open; it updates by itself.</p>}
          </>
        ) : place.state === "admitted" ? (
          <p class="ok" data-testid="queue-admitted">It's your turn. <a href={back}>Pick your seats</a>: your pass lasts
            until {place.passExpiresAt ? new Date(place.passExpiresAt).toLocaleTimeString("en-GB") : "soon"}.</p>
        ) : place.state === "soldOut" ? (
          <p>Sorry, the on-sale has sold out. <a href={back}>Back to the event</a> (seats that come back go to its waiting list).</p>
        ) : (
          <p>Your turn came and went unused, so your slot passed on. <a href={back}>Join the queue again</a>.</p>
        )}
    </section>
  );
}
