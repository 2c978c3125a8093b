// The venue drawn by section and row as one SVG: a circle per seat,
// coloured by tier, greyed when held or booked, outlined when it is yours.
// Each available seat is a button to a screen reader and the keyboard
// (Tab to it, Enter or Space to pick it), with its price in its label; the
// price shows on hover and focus too. A 5,000-seat venue is 5,000 circles,
// which the browser draws in a frame: no canvas needed.

import { memo } from "preact/compat";
import { money, Seat } from "./api";

const PITCH = 22; // distance between seat centres
const RADIUS = 8;
const SECTION_GAP = 30;
const ROW_LABEL = 30;

export const TIER_COLOURS: Record<string, string> = { vip: "#b8860b", premium: "#6a5acd", regular: "#2e8b57" };

interface Props {
  seats: Seat[];
  currency: string;
  selected: Set<string>;
  mine: Set<string>;
  onToggle: (seat: Seat) => void;
}

interface Row {
  section: string;
  row: string;
  seats: Seat[];
}

function layout(seats: Seat[]) {
  const rows = new Map<string, Row>();
  for (const seat of seats) {
    const key = `${seat.section}\u0000${seat.row}`;
    let row = rows.get(key);
    if (!row) rows.set(key, (row = { section: seat.section, row: seat.row, seats: [] }));
    row.seats.push(seat);
  }
  const ordered = [...rows.values()];
  for (const row of ordered) row.seats.sort((a, b) => a.number - b.number);
  const width = Math.max(...ordered.map((r) => r.seats.length), 1) * PITCH + ROW_LABEL + PITCH;
  let y = 0;
  let section = "";
  const placed: { row: Row; y: number; header?: { y: number; name: string } }[] = [];
  for (const row of ordered) {
    let header;
    if (row.section !== section) {
      section = row.section;
      y += SECTION_GAP;
      header = { y: y - 10, name: section };
    }
    placed.push({ row, y: y + PITCH / 2, header });
    y += PITCH;
  }
  return { placed, width, height: y + PITCH / 2 };
}

function statusOf(seat: Seat, selected: Set<string>, mine: Set<string>): string {
  if (mine.has(seat.id)) return "yours";
  if (selected.has(seat.id)) return "selected";
  return seat.status;
}

function SeatMapView({ seats, currency, selected, mine, onToggle }: Props) {
  const { placed, width, height } = layout(seats);
  const key = (e: KeyboardEvent, seat: Seat) => {
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      onToggle(seat);
    }
  };
  return (
    <svg
      class="seatmap"
      viewBox={`0 0 ${width} ${height}`}
      // A small hall is not blown up to the window's width: seats stay
      // finger-sized (about 2x) and a stadium still fits the screen.
      style={{ maxWidth: `${Math.round(width * 2)}px` }}
      role="group"
      aria-label="Seat map"
      data-testid="seatmap"
    >
      <text class="stage" x={width / 2} y={12} text-anchor="middle">STAGE</text>
      {placed.map(({ row, y, header }) => (
        <g key={`${row.section}-${row.row}`}>
          {header && <text class="section" x={4} y={header.y}>{header.name}</text>}
          <text class="row" x={4} y={y + 4}>{row.row}</text>
          {row.seats.map((seat, i) => {
            const status = statusOf(seat, selected, mine);
            const free = status === "available" || status === "selected";
            const price = money(currency, seat.priceCents);
            const label = `Seat ${seat.label}, ${seat.section}, ${price}, ${status === "selected" ? "selected" : status}`;
            return (
              <circle
                key={seat.id}
                class={`seat ${status}`}
                data-seat={seat.label}
                data-status={status}
                cx={ROW_LABEL + i * PITCH + PITCH / 2}
                cy={y}
                r={RADIUS}
                fill={free ? TIER_COLOURS[seat.tier] : undefined}
                role={free ? "button" : "img"}
                tabindex={free ? 0 : -1}
                aria-pressed={free ? status === "selected" : undefined}
                aria-label={label}
                onClick={free ? () => onToggle(seat) : undefined}
                onKeyDown={free ? (e) => key(e as KeyboardEvent, seat) : undefined}
              >
                <title>{label}</title>
              </circle>
            );
          })}
        </g>
      ))}
    </svg>
  );
}

/// Redrawn only when a seat, the selection or the owner's seats change.
export const SeatMap = memo(SeatMapView);
