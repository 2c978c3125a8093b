// The box office web app: events, the live seat map, checkout with a hold
// countdown, your bookings and tickets, the on-sale waiting room, and for
// organisers the event form and each event's live sales dashboard.
// Routes live in the URL's hash (#/events/…), so the server only ever
// serves index.html at / and the hashed assets: no route of the API can be
// shadowed by a page.

import { render } from "preact";
import { useCallback, useEffect, useMemo, useState } from "preact/hooks";
import {
  api, ApiError, Booking, EventInfo, money, WaitlistEntry, saveSession, Seat, SeatMap as SeatMapData, session, Session, Ticket,
  watchSeats, when,
} from "./api";
import { Dashboard } from "./dashboard";
import { admissionPass, QueueBox, QueuePage, useLine } from "./queue";
import { SeatMap, TIER_COLOURS } from "./seatmap";
import "./style.css";

function useRoute(): string[] {
  const read = () => (location.hash.replace(/^#\/?/, "") || "events").split("/").map(decodeURIComponent);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const onChange = () => setRoute(read());
    addEventListener("hashchange", onChange);
    return () => removeEventListener("hashchange", onChange);
  }, []);
  return route;
}

export function go(path: string) {
  location.hash = `#/${path}`;
}

function Alert({ error }: { error: string | null }) {
  return error ? <p class="alert" role="alert">{error}</p> : null;
}

function message(e: unknown): string {
  return e instanceof ApiError ? e.message : "Something went wrong. Please try again.";
}

function App() {
  const route = useRoute();
  const [user, setUser] = useState<Session | null>(session());
  const signedIn = useCallback((s: Session | null) => {
    saveSession(s);
    setUser(s);
  }, []);
  let page;
  switch (route[0]) {
    case "events":
      page = route[1] ? <EventPage id={route[1]} user={user} /> : <EventList />;
      break;
    case "bookings":
      page = route[1] ? <BookingPage id={route[1]} /> : <MyBookings />;
      break;
    case "queue":
      page = route[1] && route[2] ? <QueuePage eventId={route[1]} token={route[2]} /> : <p>Page not found.</p>;
      break;
    case "login":
      page = <Login onSignedIn={signedIn} next={route.slice(1).join("/") || "events"} />;
      break;
    case "verify":
      page = <VerifyEmail token={route[1] ?? ""} />;
      break;
    case "reset":
      page = route[1] ? <ResetPassword token={route[1]} /> : <ForgotPassword />;
      break;
    case "admin":
      page = route[1] === "events" && route[2] ? <Dashboard id={route[2]} /> : <NewEventForm />;
      break;
    default:
      page = <p>Page not found. <a href="#/events">See what's on</a>.</p>;
  }
  return (
    <>
      <header>
        <a class="brand" href="#/events">Box Office</a>
        <nav>
          <a href="#/events">Events</a>
          {user && <a href="#/bookings">My bookings</a>}
          {user?.user.role === "admin" && <a href="#/admin">New event</a>}
          {user ? (
            <button class="link" onClick={() => signedIn(null)}>Log out {user.user.name}</button>
          ) : (
            <a href="#/login">Log in</a>
          )}
        </nav>
      </header>
      <main><Notice key={route.join("/")} />{page}</main>
    </>
  );
}

function EventList() {
  const [query, setQuery] = useState("");
  const [category, setCategory] = useState("");
  const [events, setEvents] = useState<EventInfo[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const params = new URLSearchParams({ limit: "50" });
    if (query.trim()) params.set("q", query.trim());
    if (category) params.set("category", category);
    const timer = setTimeout(() => {
      api.events(params.toString()).then((page) => (setEvents(page.events), setError(null)), (e) => setError(message(e)));
    }, 200);
    return () => clearTimeout(timer);
  }, [query, category]);
  return (
    <section>
      <h1>What's on</h1>
      <div class="filters">
        <input type="search" placeholder="Search events, venues, artists" aria-label="Search" value={query}
          onInput={(e) => setQuery((e.target as HTMLInputElement).value)} />
        <select aria-label="Category" value={category} onChange={(e) => setCategory((e.target as HTMLSelectElement).value)}>
          <option value="">All categories</option>
          {["concert", "sports", "theater", "comedy", "test"].map((c) => <option value={c}>{c}</option>)}
        </select>
      </div>
      <Alert error={error} />
      {events === null ? <p>Loading…</p> : events.length === 0 ? <p>No events match.</p> : (
        <ul class="events">
          {events.map((event) => (
            <li key={event.id}>
              <a href={`#/events/${encodeURIComponent(event.id)}`}>
                <strong>{event.name}</strong>
                <span>{when(event.date)} · {event.venue.name}</span>
                <span>from {money(event.currency, event.priceCents)} · {event.availability.available} of {event.availability.total} seats left</span>
              </a>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function EventPage({ id, user }: { id: string; user: Session | null }) {
  const [event, setEvent] = useState<EventInfo | null>(null);
  const [map, setMap] = useState<SeatMapData | null>(null);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const line = useLine(id);
  useEffect(() => {
    api.event(id).then(setEvent, (e) => setError(message(e)));
    return watchSeats(id, setMap, (e) => setError(e.message));
  }, [id]);
  // A seat someone else took while it was selected drops out of the selection.
  useEffect(() => {
    if (!map) return;
    const free = new Set(map.seats.filter((s) => s.status === "available").map((s) => s.id));
    setSelected((current) => {
      const kept = new Set([...current].filter((seatId) => free.has(seatId)));
      return kept.size === current.size ? current : kept;
    });
  }, [map]);
  const limit = Math.min(event?.maxSeatsPerUser ?? 10, 10);
  const toggle = useCallback((seat: Seat) => {
    setError(null);
    setSelected((current) => {
      const next = new Set(current);
      if (next.has(seat.id)) next.delete(seat.id);
      else if (next.size >= limit) {
        setError(`You can pick up to ${limit} seats.`);
        return current;
      } else next.add(seat.id);
      return next;
    });
  }, [limit]);
  const chosen = useMemo(() => map?.seats.filter((s) => selected.has(s.id)) ?? [], [map, selected]);
  const total = chosen.reduce((sum, s) => sum + s.priceCents, 0);
  const book = async () => {
    if (!user) return go(`login/events/${encodeURIComponent(id)}`);
    setBusy(true);
    try {
      const booking = await api.book(id, [...selected], admissionPass(id));
      go(`bookings/${booking.id}`);
    } catch (e) {
      setError(message(e));
    } finally {
      setBusy(false);
    }
  };
  if (!event) return error ? <Alert error={error} /> : <p>Loading…</p>;
  return (
    <section>
      <h1>{event.name}</h1>
      <p class="meta">{when(event.date)} · {event.venue.name}{event.venue.city ? `, ${event.venue.city}` : ""}
        {event.artist ? ` · ${event.artist.name}` : ""}</p>
      {event.description && <p>{event.description}</p>}
      {user?.user.role === "admin" && <p><a href={`#/admin/events/${encodeURIComponent(id)}`}>Sales dashboard</a></p>}
      <ul class="legend" aria-label="Prices">
        {event.sections.map((s) => (
          <li key={s.name}><span class="dot" style={{ background: TIER_COLOURS[s.tier] }} />{s.name}: {money(event.currency, s.priceCents)}</li>
        ))}
        <li><span class="dot held" />held</li>
        <li><span class="dot booked" />sold</li>
      </ul>
      {map && (
        <p class="availability" data-testid="availability">
          {map.availability.available} available · {map.availability.held} held · {map.availability.booked} sold
        </p>
      )}
      <Alert error={error} />
      {map ? (
        <SeatMap seats={map.seats} currency={map.currency} selected={selected} mine={new Set()} onToggle={toggle} />
      ) : <p>Loading the seat map…</p>}
      {line && <QueueBox eventId={id} line={line} user={user} />}
      {map && map.availability.available === 0 && <Waitlist eventId={id} user={user} />}
      <div class="basket" aria-live="polite">
        <span>{chosen.length ? `${chosen.map((s) => s.label).join(", ")} · ${money(event.currency, total)}` : "Pick your seats on the map."}</span>
        <button disabled={!chosen.length || busy} onClick={book}>
          {user ? `Hold ${chosen.length || ""} seat${chosen.length === 1 ? "" : "s"} for 10 minutes` : "Log in to book"}
        </button>
      </div>
    </section>
  );
}

/// A sold-out event's waiting list: join for 1-4 seats, see your place,
/// and the held booking once seats come back to you.
function Waitlist({ eventId, user }: { eventId: string; user: Session | null }) {
  const [entry, setEntry] = useState<WaitlistEntry | null>(null);
  const [seats, setSeats] = useState(2);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (!user) return;
    const load = () => api.waitlist(eventId).then(setEntry, () => setEntry(null));
    load();
    const timer = setInterval(load, 5000);
    return () => clearInterval(timer);
  }, [eventId, user]);
  const act = async (call: () => Promise<WaitlistEntry>) => {
    setError(null);
    try {
      setEntry(await call());
    } catch (e) {
      setError(message(e));
    }
  };
  const live = entry && (entry.state === "WAITING" || entry.state === "OFFERED");
  return (
    <div class="waitlist" data-testid="waitlist">
      <strong>Sold out.</strong>{" "}
      {!user ? <a href={`#/login/events/${encodeURIComponent(eventId)}`}>Log in to join the waiting list.</a>
        : entry?.state === "WAITING" ? (
          <>
            You are <strong>number {entry.position}</strong> in line for {entry.seats} seat{entry.seats === 1 ? "" : "s"}; we
            e-mail you when seats come back.{" "}
            <button class="link" onClick={() => act(() => api.leaveWaitlist(eventId))}>Leave the list</button>
          </>
        ) : entry?.state === "OFFERED" ? (
          <>Seats came back and are held for you: <a href={`#/bookings/${entry.bookingId}`}>pay to claim them</a>.</>
        ) : (
          <>
            Join the waiting list for{" "}
            <select aria-label="Seats wanted" value={seats} onChange={(e) => setSeats(Number((e.target as HTMLSelectElement).value))}>
              {[1, 2, 3, 4].map((n) => <option value={n}>{n}</option>)}
            </select>{" "}
            seat{seats === 1 ? "" : "s"}{" "}
            <button onClick={() => act(() => api.joinWaitlist(eventId, seats))}>{live ? "Update" : "Join the waiting list"}</button>
          </>
        )}
      <Alert error={error} />
    </div>
  );
}

function Countdown({ until, onLapse }: { until: string; onLapse: () => void }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  const left = Math.max(0, Math.floor((Date.parse(until) - now) / 1000));
  useEffect(() => {
    if (left === 0) onLapse();
  }, [left === 0]);
  const text = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
  return <p class="countdown" role="timer" aria-live="off" data-testid="countdown">Seats held for you for <strong>{text}</strong></p>;
}

function BookingPage({ id }: { id: string }) {
  const [booking, setBooking] = useState<Booking | null>(null);
  const [tickets, setTickets] = useState<Ticket[]>([]);
  const [card, setCard] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const load = useCallback(() => api.booking(id).then(setBooking, (e) => setError(message(e))), [id]);
  useEffect(() => {
    load();
  }, [load]);
  useEffect(() => {
    if (booking?.status === "CONFIRMED") api.tickets(id).then((t) => setTickets(t.tickets), () => setTickets([]));
  }, [booking?.status]);
  if (!booking) return error ? <Alert error={error} /> : <p>Loading…</p>;
  const open = booking.status === "PENDING" || booking.status === "RESERVED";
  const pay = async (e: SubmitEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      setBooking(await api.pay(id, card));
    } catch (err) {
      setError(message(err));
      load();
    } finally {
      setBusy(false);
    }
  };
  const cancel = async () => {
    setBusy(true);
    try {
      setBooking(await api.cancel(id));
    } catch (err) {
      setError(message(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section>
      <h1>Booking</h1>
      <p>Status: <strong data-testid="booking-status">{booking.status}</strong></p>
      <table class="seats">
        <tbody>
          {booking.seats.map((s) => <tr key={s.id}><td>Seat {s.label}</td><td>{s.section}</td><td>{money(booking.currency, Math.round(s.price * 100))}</td></tr>)}
          <tr><th colSpan={2}>Total</th><th>{money(booking.currency, booking.totalCents)}</th></tr>
        </tbody>
      </table>
      {open && <Countdown until={booking.expiresAt} onLapse={load} />}
      <Alert error={error} />
      {open && (
        <form class="pay" onSubmit={pay}>
          <label>Card number
            <input name="card" inputMode="numeric" autoComplete="cc-number" placeholder="4242 4242 4242 4242" required
              value={card} onInput={(e) => setCard((e.target as HTMLInputElement).value)} />
          </label>
          <p class="hint">Test cards: 4242 4242 4242 4242 pays; 4000 0000 0000 0002 is declined.</p>
          <button type="submit" disabled={busy}>Pay {money(booking.currency, booking.totalCents)}</button>
          <button type="button" class="secondary" disabled={busy} onClick={cancel}>Cancel booking</button>
        </form>
      )}
      {booking.status === "CONFIRMED" && (
        <>
          <p class="ok">Paid. Your tickets are below and in your inbox.</p>
          <div class="tickets">
            {tickets.map((t) => (
              <figure key={t.ticketId} class="ticket">
                {/* Our server draws this SVG from the signed code; nothing a user typed is in it. */}
                <div dangerouslySetInnerHTML={{ __html: t.qrSvg }} />
                <figcaption>Seat {t.label} · {t.section}</figcaption>
              </figure>
            ))}
          </div>
          <button class="secondary" disabled={busy} onClick={cancel}>Cancel and refund</button>
        </>
      )}
    </section>
  );
}

function MyBookings() {
  const [bookings, setBookings] = useState<Booking[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api.bookings().then((page) => setBookings(Array.isArray(page) ? page : page.bookings), (e) => setError(message(e)));
  }, []);
  if (error) return <Alert error={error} />;
  if (!bookings) return <p>Loading…</p>;
  return (
    <section>
      <h1>My bookings</h1>
      {bookings.length === 0 ? <p>No bookings yet. <a href="#/events">Find an event</a>.</p> : (
        <ul class="events">
          {bookings.map((b) => (
            <li key={b.id}>
              <a href={`#/bookings/${b.id}`}>
                <strong>{b.seats.map((s) => s.label).join(", ")} · {money(b.currency, b.totalCents)}</strong>
                <span>{b.status} · booked {when(b.createdAt)}</span>
              </a>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

/// `next`: where to go once signed in (the page that asked for a login).
function Login({ onSignedIn, next }: { onSignedIn: (s: Session) => void; next: string }) {
  const [mode, setMode] = useState<"login" | "register">("login");
  const [form, setForm] = useState({ email: "", name: "", password: "" });
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    setError(null);
    setNotice(null);
    try {
      if (mode === "register") {
        // The answer is the same whether or not the address already had an
        // account; the mail says which. A new account can log in at once
        // (tickets are mailed once the address is verified).
        const registered = await api.register(form.email, form.name, form.password);
        try {
          onSignedIn(await api.login(form.email, form.password));
          saveNotice(`${registered.message} Verify your address to get your tickets by e-mail.`);
          go(next);
        } catch {
          setNotice(registered.message);
        }
        return;
      }
      onSignedIn(await api.login(form.email, form.password));
      go(next);
    } catch (err) {
      setError(message(err));
    }
  };
  const field = (name: keyof typeof form) => (e: Event) => setForm({ ...form, [name]: (e.target as HTMLInputElement).value });
  return (
    <section class="narrow">
      <h1>{mode === "login" ? "Log in" : "Create an account"}</h1>
      <form onSubmit={submit}>
        <label>E-mail<input type="email" name="email" required autoComplete="email" value={form.email} onInput={field("email")} /></label>
        {mode === "register" && <label>Name<input name="name" required autoComplete="name" value={form.name} onInput={field("name")} /></label>}
        <label>Password<input type="password" name="password" required minLength={8}
          autoComplete={mode === "login" ? "current-password" : "new-password"} value={form.password} onInput={field("password")} /></label>
        <Alert error={error} />
        {notice && <p class="notice" role="status">{notice}</p>}
        <button type="submit">{mode === "login" ? "Log in" : "Create account"}</button>
      </form>
      <button class="link" onClick={() => setMode(mode === "login" ? "register" : "login")}>
        {mode === "login" ? "New here? Create an account" : "Have an account? Log in"}
      </button>
      {mode === "login" && <p><a href="#/reset">Forgot your password?</a></p>}
    </section>
  );
}

/// A message for the next page (the one a fresh sign-up lands on).
function saveNotice(text: string) {
  sessionStorage.setItem("notice", text);
}

function takeNotice(): string | null {
  const text = sessionStorage.getItem("notice");
  sessionStorage.removeItem("notice");
  return text;
}

function Notice() {
  const [text] = useState(takeNotice);
  return text ? <p class="notice" role="status">{text}</p> : null;
}

/// `#/verify/{token}`: the link from the verification mail.
function VerifyEmail({ token }: { token: string }) {
  const [state, setState] = useState<{ done?: string; error?: string }>({});
  useEffect(() => {
    api.verifyEmail(token).then(
      (v) => setState({ done: `${v.email} is verified: your tickets will be e-mailed there.` }),
      (err) => setState({ error: message(err) }),
    );
  }, [token]);
  return (
    <section class="narrow">
      <h1>Verify your address</h1>
      {state.done && <p role="status">{state.done} <a href="#/events">See what's on</a>.</p>}
      <Alert error={state.error ?? null} />
      {state.error && session() && <ResendButton />}
      {!state.done && !state.error && <p>Checking your link…</p>}
    </section>
  );
}

function ResendButton() {
  const [result, setResult] = useState<{ text?: string; error?: string }>({});
  const resend = async () => {
    try {
      const r = await api.resendVerification();
      setResult({ text: r.emailVerified ? "Your address is already verified." : r.message });
    } catch (err) {
      setResult({ error: message(err) });
    }
  };
  return (
    <>
      <button onClick={resend}>Send me a new link</button>
      {result.text && <p role="status">{result.text}</p>}
      <Alert error={result.error ?? null} />
    </>
  );
}

/// `#/reset`: asks for a reset link.
function ForgotPassword() {
  const [email, setEmail] = useState("");
  const [result, setResult] = useState<{ text?: string; error?: string }>({});
  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    try {
      setResult({ text: (await api.requestPasswordReset(email)).message });
    } catch (err) {
      setResult({ error: message(err) });
    }
  };
  return (
    <section class="narrow">
      <h1>Reset your password</h1>
      <form onSubmit={submit}>
        <label>E-mail<input type="email" name="email" required autoComplete="email" value={email}
          onInput={(e) => setEmail((e.target as HTMLInputElement).value)} /></label>
        <Alert error={result.error ?? null} />
        {result.text && <p class="notice" role="status">{result.text}</p>}
        <button type="submit">Send me a link</button>
      </form>
    </section>
  );
}

/// `#/reset/{token}`: the link from the reset mail; it works once.
function ResetPassword({ token }: { token: string }) {
  const [password, setPassword] = useState("");
  const [result, setResult] = useState<{ text?: string; error?: string }>({});
  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    try {
      setResult({ text: (await api.confirmPasswordReset(token, password)).message });
    } catch (err) {
      setResult({ error: message(err) });
    }
  };
  return (
    <section class="narrow">
      <h1>Choose a new password</h1>
      {result.text ? <p role="status">{result.text} <a href="#/login">Log in</a>.</p> : (
        <form onSubmit={submit}>
          <label>New password<input type="password" name="password" required minLength={8} maxLength={128}
            autoComplete="new-password" value={password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} /></label>
          <Alert error={result.error ?? null} />
          <button type="submit">Set password</button>
        </form>
      )}
      {result.error && <p><a href="#/reset">Ask for a new link</a></p>}
    </section>
  );
}

interface SectionDraft { name: string; tier: string; price: string; rows: string; seatsPerRow: string }

function NewEventForm() {
  const [form, setForm] = useState({ name: "", venue: "", city: "", date: "", category: "concert", description: "" });
  const [sections, setSections] = useState<SectionDraft[]>([{ name: "Floor", tier: "regular", price: "50", rows: "5", seatsPerRow: "10" }]);
  // New events are off sale until they open; by default they open now,
  // unchecked they wait for the on-sale set on the event's dashboard.
  const [openNow, setOpenNow] = useState(true);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    setError(null);
    setFieldErrors({});
    const parsed = sections.map((s) => ({ name: s.name, tier: s.tier, price: Number(s.price), rows: Number(s.rows), seatsPerRow: Number(s.seatsPerRow) }));
    const totalSeats = parsed.reduce((n, s) => n + s.rows * s.seatsPerRow, 0);
    try {
      const event = await api.createEvent({
        name: form.name, venue: { name: form.venue, city: form.city || null },
        date: form.date ? new Date(form.date).toISOString() : "", totalSeats,
        price: Math.min(...parsed.map((s) => s.price)), description: form.description, category: form.category, sections: parsed,
        ...(openNow ? { salesOpenAt: new Date().toISOString() } : {}),
      });
      go(`events/${event.id}`);
    } catch (err) {
      if (err instanceof ApiError && err.details?.fields) setFieldErrors(err.details.fields);
      setError(message(err));
    }
  };
  const field = (name: keyof typeof form) => (e: Event) => setForm({ ...form, [name]: (e.target as HTMLInputElement).value });
  const problem = (name: string) => fieldErrors[name] && <span class="field-error" role="alert">{fieldErrors[name]}</span>;
  const setSection = (i: number, key: keyof SectionDraft, value: string) =>
    setSections(sections.map((s, j) => (j === i ? { ...s, [key]: value } : s)));
  return (
    <section class="narrow">
      <h1>New event</h1>
      <form onSubmit={submit} noValidate>
        <label>Name<input name="name" value={form.name} onInput={field("name")} />{problem("name")}</label>
        <label>Venue<input name="venue" value={form.venue} onInput={field("venue")} />{problem("venue.name")}{problem("venue")}</label>
        <label>City<input name="city" value={form.city} onInput={field("city")} /></label>
        <label>Date and time<input type="datetime-local" name="date" value={form.date} onInput={field("date")} />{problem("date")}</label>
        <label>Category<input name="category" value={form.category} onInput={field("category")} />{problem("category")}</label>
        <label>Description<textarea name="description" value={form.description} onInput={field("description")} />{problem("description")}</label>
        <fieldset>
          <legend>Sections</legend>
          {sections.map((s, i) => (
            <div class="section-row" key={i}>
              <input aria-label={`Section ${i + 1} name`} value={s.name} onInput={(e) => setSection(i, "name", (e.target as HTMLInputElement).value)} />
              <select aria-label={`Section ${i + 1} tier`} value={s.tier} onChange={(e) => setSection(i, "tier", (e.target as HTMLSelectElement).value)}>
                <option value="regular">regular</option><option value="premium">premium</option><option value="vip">vip</option>
              </select>
              <input aria-label={`Section ${i + 1} price`} inputMode="decimal" value={s.price} onInput={(e) => setSection(i, "price", (e.target as HTMLInputElement).value)} />
              <input aria-label={`Section ${i + 1} rows`} inputMode="numeric" value={s.rows} onInput={(e) => setSection(i, "rows", (e.target as HTMLInputElement).value)} />
              <input aria-label={`Section ${i + 1} seats per row`} inputMode="numeric" value={s.seatsPerRow} onInput={(e) => setSection(i, "seatsPerRow", (e.target as HTMLInputElement).value)} />
            </div>
          ))}
          {problem("sections")}
          <button type="button" class="secondary" onClick={() => setSections([...sections, { name: "", tier: "regular", price: "", rows: "1", seatsPerRow: "10" }])}>Add a section</button>
        </fieldset>
        <label class="check"><input type="checkbox" name="openNow" checked={openNow}
          onChange={(e) => setOpenNow((e.target as HTMLInputElement).checked)} />
          Open sales now (otherwise fans can book once you set the on-sale on the event's dashboard)</label>
        {problem("salesOpenAt")}
        <Alert error={error} />
        <button type="submit">Create event</button>
      </form>
    </section>
  );
}

render(<App />, document.getElementById("app")!);
