// The box office API as the web app uses it: same origin (the local gateway
// serves this app at / beside the API; CloudFront does the same on AWS), a
// bearer token kept in localStorage, and every error turned into a sentence
// a fan can act on.

export type Tier = "regular" | "premium" | "vip";
export type SeatStatus = "available" | "held" | "booked";
export type BookingStatus = "PENDING" | "RESERVED" | "CONFIRMED" | "CANCELLED" | "EXPIRED" | "FAILED";

export interface User { id: string; email: string; name: string; role: "user" | "staff" | "admin"; tier: Tier }
export interface Session { user: User; token: string }
export interface Availability { total: number; available: number; held: number; booked: number }
export interface Section { name: string; tier: Tier; price: number; priceCents: number; rows?: string[]; seats?: number }
export interface EventInfo {
  id: string; name: string; description?: string | null; category?: string | null; date: string;
  venue: { name: string; city?: string | null }; artist?: { name: string; genre?: string | null } | null;
  currency: string; price: number; priceCents: number; totalSeats: number; maxSeatsPerUser?: number;
  sections: Section[]; availability: Availability;
}
export interface EventPage { events: EventInfo[]; page: number; limit: number; total: number; totalPages: number }
export interface Seat {
  id: string; label: string; row: string; number: number; section: string; tier: Tier;
  price: number; priceCents: number; status: SeatStatus;
}
export interface SeatMap { eventId: string; currency: string; availability: Availability; seats: Seat[] }
export interface Booking {
  id: string; eventId: string; status: BookingStatus; total: number; totalCents: number; currency: string;
  expiresAt: string; createdAt: string; failureReason?: string;
  seats: { id: string; label: string; section: string; tier: Tier; price: number }[];
}
export interface WaitlistEntry {
  eventId: string; seats: number; state: "WAITING" | "OFFERED" | "LEFT" | "PASSED"; position?: number;
  bookingId?: string; offerExpiresAt?: string; bookingStatus?: BookingStatus;
}
export interface SalesCounts {
  requested: number; seatsRequested: number; confirmed: number; seatsSold: number; grossCents: number;
  cancelled: number; seatsCancelled: number; refundedCents: number; expired: number; failed: number;
  firstRequestAt?: string; lastSaleAt?: string;
}
export interface MinuteStats extends SalesCounts { minute: string }
export interface EventStats {
  eventId: string; name: string; currency: string; seats: Availability;
  sections: (Availability & { name: string; tier: Tier })[];
  totals: SalesCounts; conversion: number | null; netCents: number; soldOutAt: string | null;
  timeToSellOutSecs: number | null; admitted: number; minutes: MinuteStats[]; nextFrom: string | null; generatedAt: string;
}
export interface Line {
  eventId: string; opensAt: string; queueEnabled: boolean; admissionPerMinute: number; admittedThrough: number;
  inLine: number; soldOut: boolean;
}
export interface OnSale {
  eventId: string; opensAt: string; queueEnabled: boolean; admissionPerMinute: number; passTtlSeconds: number;
  maxSeatsPerUser?: number | null;
}
export interface QueuePlace {
  token: string; eventId: string; state: "preQueue" | "waiting" | "admitted" | "soldOut" | "lapsed";
  position?: number | null; ahead?: number | null; estimatedWaitSeconds?: number | null; opensAt: string; soldOut: boolean;
  admissionPass?: string | null; passExpiresAt?: string | null; retryAfterSeconds: number;
}
export interface Ticket { ticketId: string; seatId: string; label: string; section: string; code: string; qrSvg: string }

export class ApiError extends Error {
  constructor(public status: number, public code: string, message: string, public details?: any) {
    super(message);
  }
}

const TOKEN_KEY = "box-office.session";

export function session(): Session | null {
  try {
    return JSON.parse(localStorage.getItem(TOKEN_KEY) ?? "null");
  } catch {
    return null;
  }
}

export function saveSession(s: Session | null) {
  if (s) localStorage.setItem(TOKEN_KEY, JSON.stringify(s));
  else localStorage.removeItem(TOKEN_KEY);
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  const token = session()?.token;
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, "NETWORK", "The box office cannot be reached. Check your connection and try again.");
  }
  const payload = await response.json().catch(() => null);
  if (!response.ok || !payload?.success) {
    const error = payload?.error ?? {};
    if (response.status === 401 && token) saveSession(null);
    throw new ApiError(response.status, error.code ?? "UNKNOWN", explain(response.status, error), error.details);
  }
  return payload.data as T;
}

/// The API's messages are written for people already; a few codes get a
/// hint about what to do next.
function explain(status: number, error: { code?: string; message?: string; details?: any }): string {
  const message = error.message ?? `The box office answered ${status}.`;
  switch (error.code) {
    case "UNAUTHORIZED":
      return "Please log in again.";
    case "VALIDATION_ERROR": {
      const fields = error.details?.fields ?? {};
      const parts = Object.entries(fields).map(([field, problem]) => `${field} ${problem}`);
      return parts.length ? parts.join("; ") : message;
    }
    case "ADMISSION_PASS_REQUIRED":
      return "This on-sale has a waiting room: join the queue above and book when it is your turn.";
    case "ADMISSION_PASS_EXPIRED":
      return "Your turn in the waiting room has passed. Join the queue again.";
    case "LINK_INVALID":
    case "LINK_EXPIRED":
      return `${message}.`;
    case "TOO_MANY_REQUESTS":
      return `${message} Please wait a moment and try again.`;
    case "SERVICE_UNAVAILABLE":
      return "The box office is busy. Please try again in a few seconds.";
    default:
      return message;
  }
}

export const api = {
  /// The same answer whether or not the address had an account: the
  /// inbox tells the rest.
  register: (email: string, name: string, password: string) =>
    call<{ message: string }>("POST", "/auth/register", { email, name, password }),
  verifyEmail: (token: string) => call<{ email: string; emailVerified: boolean }>("POST", "/auth/verify", { token }),
  resendVerification: () => call<{ message?: string; emailVerified?: boolean }>("POST", "/auth/verify/resend"),
  requestPasswordReset: (email: string) => call<{ message: string }>("POST", "/auth/password-reset", { email }),
  confirmPasswordReset: (token: string, password: string) =>
    call<{ message: string }>("POST", "/auth/password-reset/confirm", { token, password }),
  login: (email: string, password: string) => call<Session>("POST", "/auth/login", { email, password }),
  events: (query: string) => call<EventPage>("GET", `/events?${query}`),
  event: (id: string) => call<EventInfo>("GET", `/events/${encodeURIComponent(id)}`),
  book: (eventId: string, seatIds: string[], admissionPass?: string) =>
    call<Booking>("POST", "/bookings", { eventId, seatIds, ...(admissionPass ? { admissionPass } : {}) }),
  booking: (id: string) => call<Booking>("GET", `/bookings/${encodeURIComponent(id)}`),
  bookings: () => call<{ bookings: Booking[] } | Booking[]>("GET", "/bookings?limit=50"),
  pay: (id: string, cardNumber: string) =>
    call<Booking>("POST", `/bookings/${encodeURIComponent(id)}/pay`, { paymentMethod: { type: "card", cardNumber } }),
  cancel: (id: string) => call<Booking>("PUT", `/bookings/${encodeURIComponent(id)}/cancel`),
  tickets: (id: string) => call<{ tickets: Ticket[] }>("GET", `/bookings/${encodeURIComponent(id)}/tickets`),
  createEvent: (body: unknown) => call<EventInfo>("POST", "/events", body),
  waitlist: (id: string) => call<WaitlistEntry>("GET", `/events/${encodeURIComponent(id)}/waitlist`),
  joinWaitlist: (id: string, seats: number) => call<WaitlistEntry>("POST", `/events/${encodeURIComponent(id)}/waitlist`, { seats }),
  setOnSale: (id: string, body: unknown) => call<OnSale>("PUT", `/events/${encodeURIComponent(id)}/onsale`, body),
  line: (id: string) => call<Line>("GET", `/events/${encodeURIComponent(id)}/queue`),
  joinQueue: (id: string) => call<QueuePlace>("POST", `/events/${encodeURIComponent(id)}/queue`),
  queuePlace: (token: string) => call<QueuePlace>("GET", `/queue/${encodeURIComponent(token)}`),
  stats: (id: string, from: string, limit: number) =>
    call<EventStats>("GET", `/admin/events/${encodeURIComponent(id)}/stats?from=${encodeURIComponent(from)}&limit=${limit}`),
  leaveWaitlist: (id: string) => call<WaitlistEntry>("DELETE", `/events/${encodeURIComponent(id)}/waitlist`),
};

/// Polls the seat map with If-None-Match: while nothing changes the server
/// answers 304 with no body, so a second-by-second poll costs next to
/// nothing. Calls `onChange` with each new map; returns a stop function.
export function watchSeats(eventId: string, onChange: (map: SeatMap) => void, onError: (e: ApiError) => void) {
  let etag = "";
  let stopped = false;
  let timer: number | undefined;
  const poll = async () => {
    try {
      const response = await fetch(`/events/${encodeURIComponent(eventId)}/seats`, {
        headers: etag ? { "if-none-match": etag } : {},
        cache: "no-store",
      });
      if (response.status === 200) {
        etag = response.headers.get("etag") ?? "";
        const payload = await response.json();
        if (!stopped) onChange(payload.data as SeatMap);
      } else if (response.status !== 304) {
        const payload = await response.json().catch(() => null);
        onError(new ApiError(response.status, payload?.error?.code ?? "UNKNOWN", payload?.error?.message ?? "The seat map is unavailable."));
      }
    } catch {
      onError(new ApiError(0, "NETWORK", "Lost the connection to the box office; retrying."));
    }
    if (!stopped) timer = window.setTimeout(poll, POLL_MS);
  };
  poll();
  return () => {
    stopped = true;
    window.clearTimeout(timer);
  };
}

/// How often the seat map asks for changes: a seat someone else holds turns
/// unavailable on every open map within about this long.
export const POLL_MS = 1000;

export function money(currency: string, cents: number): string {
  return new Intl.NumberFormat("en-US", { style: "currency", currency }).format(cents / 100);
}

export function when(iso: string): string {
  return new Date(iso).toLocaleString("en-GB", { dateStyle: "full", timeStyle: "short" });
}
