import { worstStatus } from './components.js';
import type { ComponentStatus, IncidentStatus } from './enums.js';
import { componentStatusUnder } from './publication.js';

// What customers were shown over an incident, worked out from its published updates alone: each
// component's public status as bands over time, how long each was impaired, and how long customers
// waited between two updates. The status page's chart and the postmortem ask here, so the picture
// and the figures cannot disagree.

/** A published customer update as it bears on the public picture (never a draft, never the postmortem). */
export interface AnnouncedUpdate {
  status: IncidentStatus;
  at: number;
  components: ReadonlyArray<{ slug: string; status: ComponentStatus }>;
}

/** One stretch of a component's public status, [from, to). */
export interface Band {
  status: ComponentStatus;
  from: number;
  to: number;
}

/**
 * Each named component's public status over [first update, end], as contiguous bands (equal
 * neighbours merged, empty ones dropped but the last, which says what it was left at), keyed by
 * slug in the order first named. A component
 * is operational until an update names it; a resolved update hands every one back as operational.
 * `updates` oldest first.
 */
export function publicBands(updates: readonly AnnouncedUpdate[], end: number): Map<string, Band[]> {
  const out = new Map<string, Band[]>();
  const start = updates[0]?.at ?? end;
  const set = (slug: string, status: ComponentStatus, at: number) => {
    let bands = out.get(slug);
    if (!bands) {
      bands = at > start ? [{ status: 'operational', from: start, to: at }] : [];
      out.set(slug, bands);
    }
    const last = bands.at(-1);
    if (last && last.status === status) return;
    if (last) last.to = at;
    bands.push({ status, from: at, to: at });
  };
  for (const u of updates) {
    for (const c of u.components) set(c.slug, componentStatusUnder(u.status, c.status), u.at);
    if (u.status === 'resolved') for (const slug of out.keys()) set(slug, 'operational', u.at);
  }
  for (const [slug, bands] of out) {
    const last = bands.at(-1);
    if (last) last.to = Math.max(last.from, end);
    // The last band stays even when empty: it says what the component was left at.
    out.set(
      slug,
      bands.filter((b, i) => b.to > b.from || i === bands.length - 1),
    );
  }
  return out;
}

/** How one component was shown: its worst status, from when to when (null: still shown impaired), and for how long. */
export interface ComponentImpact {
  worst: ComponentStatus;
  from: number;
  /** When it was last shown back to operational; null while customers still see it impaired. */
  to: number | null;
  /** Time not shown as operational (under maintenance counts: it is not full service). */
  impairedMs: number;
}

/** A lane's impact, or null when it was never shown as anything but operational. */
export function impactOf(bands: readonly Band[]): ComponentImpact | null {
  const bad = bands.filter((b) => b.status !== 'operational');
  if (!bad.length) return null;
  const last = bands.at(-1)!;
  return {
    worst: worstStatus(bad.map((b) => b.status)),
    from: bad[0]!.from,
    to: last.status === 'operational' ? last.from : null,
    impairedMs: bad.reduce((sum, b) => sum + (b.to - b.from), 0),
  };
}

export interface Gap {
  from: number;
  to: number;
  ms: number;
}

/** The longest wait between two consecutive times (the earliest such gap on a tie), or null with fewer than two. */
export function longestGap(times: readonly number[]): Gap | null {
  const sorted = [...times].sort((a, b) => a - b);
  let best: Gap | null = null;
  for (let i = 1; i < sorted.length; i++) {
    const ms = sorted[i]! - sorted[i - 1]!;
    if (!best || ms > best.ms) best = { from: sorted[i - 1]!, to: sorted[i]!, ms };
  }
  return best;
}
