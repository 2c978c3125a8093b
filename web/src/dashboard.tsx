// The organiser's live sales dashboard: GET /admin/events/{id}/stats every
// two seconds. Seats per section come from the live seat board (what fans
// see on the map); bookings, payments, cancellations and revenue from the
// analytics consumer's per-minute counters, a second or so behind.

import { useEffect, useState } from "preact/hooks";
import { api, ApiError, EventStats, MinuteStats, money, OnSale } from "./api";

const REFRESH_MS = 2000;
/// The chart's window: the last hour, one bar group per minute.
const WINDOW_MINUTES = 60;

export function Dashboard({ id }: { id: string }) {
  const [stats, setStats] = useState<EventStats | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let stopped = false;
    let timer: number | undefined;
    const load = async () => {
      const from = new Date(Date.now() - (WINDOW_MINUTES - 1) * 60_000).toISOString();
      try {
        const next = await api.stats(id, from, WINDOW_MINUTES);
        if (!stopped) {
          setStats(next);
          setError(null);
        }
      } catch (e) {
        if (!stopped) setError(e instanceof ApiError ? e.message : "The figures cannot be loaded right now.");
      }
      if (!stopped) timer = window.setTimeout(load, REFRESH_MS);
    };
    load();
    return () => {
      stopped = true;
      window.clearTimeout(timer);
    };
  }, [id]);
  if (!stats) return error ? <p class="alert" role="alert">{error}</p> : <p>Loading…</p>;
  const { totals, seats } = stats;
  const cash = (cents: number) => money(stats.currency, cents);
  return (
    <section class="dashboard">
      <h1>{stats.name}: sales</h1>
      <p class="meta">
        Live · updated {new Date(stats.generatedAt).toLocaleTimeString("en-GB")} ·{" "}
        <a href={`#/events/${encodeURIComponent(stats.eventId)}`}>seat map</a>
      </p>
      {error && <p class="alert" role="alert">{error}</p>}
      <dl class="tiles">
        <Tile name="seatsSold" label="Seats sold" value={`${seats.booked} / ${seats.total}`} />
        <Tile name="seatsHeld" label="Held now" value={seats.held} />
        <Tile name="seatsAvailable" label="Available" value={seats.available} />
        <Tile name="revenue" label="Revenue" value={cash(stats.netCents)}
          note={totals.refundedCents ? `${cash(totals.grossCents)} taken, ${cash(totals.refundedCents)} refunded` : undefined} />
        <Tile name="conversion" label="Holds paid" value={stats.conversion == null ? "–" : `${Math.round(stats.conversion * 100)}%`}
          note={`${totals.confirmed} of ${totals.requested} bookings`} />
        <Tile name="cancelled" label="Cancelled · lapsed" value={`${totals.cancelled} · ${totals.expired}`} />
        <Tile name="sellOut" label="Time to sell-out" value={stats.timeToSellOutSecs == null ? "selling" : duration(stats.timeToSellOutSecs)} />
        <Tile name="admitted" label="Admitted at the door" value={`${stats.admitted} / ${seats.booked}`} />
      </dl>
      <h2>By section</h2>
      <table class="by-section">
        <thead><tr><th>Section</th><th>Sold</th><th>Held</th><th>Available</th><th aria-hidden="true" /></tr></thead>
        <tbody>
          {stats.sections.map((s) => (
            <tr key={s.name} data-section={s.name}>
              <th scope="row">{s.name}</th><td>{s.booked}</td><td>{s.held}</td><td>{s.available}</td>
              <td aria-hidden="true" class="bar">
                <span class="sold" style={{ width: `${(100 * s.booked) / s.total}%` }} />
                <span class="held" style={{ width: `${(100 * s.held) / s.total}%` }} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Per minute, last hour</h2>
      <MinuteChart minutes={stats.minutes} />
      <OnSaleForm eventId={stats.eventId} />
    </section>
  );
}

function Tile({ name, label, value, note }: { name: string; label: string; value: string | number; note?: string }) {
  return (
    <div class="tile" data-stat={name}>
      <dt>{label}</dt>
      <dd>{value}</dd>
      {note && <dd class="hint">{note}</dd>}
    </div>
  );
}

function duration(secs: number): string {
  if (secs < 60) return `${secs} s`;
  const minutes = Math.floor(secs / 60);
  return minutes < 60 ? `${minutes} min ${secs % 60} s` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

const SERIES: { key: keyof MinuteStats; label: string; colour: string }[] = [
  { key: "requested", label: "bookings", colour: "#0a58ca" },
  { key: "confirmed", label: "paid", colour: "#1e7d32" },
  { key: "cancelled", label: "cancelled", colour: "#b00020" },
];

/// Bars per minute for the last hour (minutes without activity are gaps),
/// with a table of the same numbers for screen readers.
function MinuteChart({ minutes }: { minutes: MinuteStats[] }) {
  const width = 720, height = 160, pad = 24;
  const now = Math.floor(Date.now() / 60_000);
  const slot = (width - pad) / WINDOW_MINUTES;
  const peak = Math.max(1, ...minutes.flatMap((m) => SERIES.map((s) => Number(m[s.key]) || 0)));
  const bar = (slot - 2) / SERIES.length;
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${width} ${height + 16}`} role="img" aria-label="Bookings, payments and cancellations per minute">
        <line x1={pad} y1={height} x2={width} y2={height} stroke="#d2d2d7" />
        <text x={0} y={12} class="axis">{peak}</text>
        <text x={0} y={height} class="axis">0</text>
        {minutes.map((m) => {
          const age = now - Math.floor(Date.parse(m.minute) / 60_000);
          if (age < 0 || age >= WINDOW_MINUTES) return null;
          const x = pad + (WINDOW_MINUTES - 1 - age) * slot;
          return SERIES.map((s, i) => {
            const value = Number(m[s.key]) || 0;
            const h = ((height - 4) * value) / peak;
            return <rect key={`${m.minute}-${s.key}`} x={x + 1 + i * bar} y={height - h} width={bar} height={h} fill={s.colour} />;
          });
        })}
        <text x={pad} y={height + 14} class="axis">−60 min</text>
        <text x={width - 30} y={height + 14} class="axis">now</text>
      </svg>
      <figcaption class="legend">
        {SERIES.map((s) => <span key={s.key}><span class="dot" style={{ background: s.colour }} />{s.label}</span>)}
      </figcaption>
      <table class="visually-hidden">
        <thead><tr><th>Minute</th>{SERIES.map((s) => <th key={s.key}>{s.label}</th>)}</tr></thead>
        <tbody>
          {minutes.map((m) => (
            <tr key={m.minute}><th>{new Date(m.minute).toLocaleTimeString("en-GB")}</th>{SERIES.map((s) => <td key={s.key}>{m[s.key]}</td>)}</tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}

/// The event's on-sale: when it opens and whether fans queue first. The
/// API checks every field; its problems are shown beside each one.
function OnSaleForm({ eventId }: { eventId: string }) {
  const [form, setForm] = useState({ opensAt: "", queueEnabled: false, admissionPerMinute: "", passTtlSeconds: "", maxSeatsPerUser: "" });
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState<OnSale | null>(null);
  useEffect(() => {
    // The current settings, if the event has an on-sale (its public line).
    api.line(eventId).then((line) => setForm((f) => ({
      ...f, opensAt: localInput(line.opensAt), queueEnabled: line.queueEnabled,
      admissionPerMinute: line.queueEnabled ? String(line.admissionPerMinute) : "",
    })), () => {});
  }, [eventId]);
  const number = (raw: string) => (raw.trim() === "" ? null : Number(raw));
  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    setError(null);
    setFieldErrors({});
    setSaved(null);
    try {
      setSaved(await api.setOnSale(eventId, {
        opensAt: form.opensAt ? new Date(form.opensAt).toISOString() : "",
        queueEnabled: form.queueEnabled,
        admissionPerMinute: number(form.admissionPerMinute),
        passTtlSeconds: number(form.passTtlSeconds),
        maxSeatsPerUser: number(form.maxSeatsPerUser),
      }));
    } catch (err) {
      if (err instanceof ApiError && err.details?.fields) setFieldErrors(err.details.fields);
      setError(err instanceof ApiError ? err.message : "The on-sale could not be saved.");
    }
  };
  const text = (name: "opensAt" | "admissionPerMinute" | "passTtlSeconds" | "maxSeatsPerUser") => (e: Event) =>
    setForm({ ...form, [name]: (e.target as HTMLInputElement).value });
  const problem = (name: string) => fieldErrors[name] && <span class="field-error" role="alert">{fieldErrors[name]}</span>;
  return (
    <form class="onsale narrow" onSubmit={submit} noValidate data-testid="onsale-form">
      <h2>On-sale</h2>
      <label>Opens at<input type="datetime-local" name="opensAt" value={form.opensAt} onInput={text("opensAt")} />{problem("opensAt")}</label>
      <label class="check"><input type="checkbox" name="queueEnabled" checked={form.queueEnabled}
        onChange={(e) => setForm({ ...form, queueEnabled: (e.target as HTMLInputElement).checked })} /> Fans wait in a queue first</label>
      {form.queueEnabled && (
        <>
          <label>Fans let in per minute<input name="admissionPerMinute" inputMode="numeric" value={form.admissionPerMinute} onInput={text("admissionPerMinute")} />{problem("admissionPerMinute")}</label>
          <label>Time to book once let in (seconds)<input name="passTtlSeconds" inputMode="numeric" placeholder="180" value={form.passTtlSeconds} onInput={text("passTtlSeconds")} />{problem("passTtlSeconds")}</label>
        </>
      )}
      <label>Seats per fan (blank: the event's limit)<input name="maxSeatsPerUser" inputMode="numeric" value={form.maxSeatsPerUser} onInput={text("maxSeatsPerUser")} />{problem("maxSeatsPerUser")}</label>
      {error && <p class="alert" role="alert">{error}</p>}
      {saved && <p class="ok" role="status" data-testid="onsale-saved">Saved: opens {new Date(saved.opensAt).toLocaleString("en-GB")}
        {saved.queueEnabled ? `, a queue letting in ${saved.admissionPerMinute} a minute` : ", no queue"}.</p>}
      <button type="submit">Save the on-sale</button>
    </form>
  );
}

/// An instant as a datetime-local input wants it: local time, minutes.
function localInput(iso: string): string {
  const at = new Date(iso);
  return new Date(at.getTime() - at.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
}
