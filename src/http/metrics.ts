import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

// /metrics on prom-client. Two kinds of source feed one registry:
// - collectors: each capability says what it counts at scrape time (outbox rows by state, open
//   incidents, status-page rebuilds) as plain samples; each sample becomes a prom-client gauge or
//   counter, set from the collector on every scrape, so prom-client writes the exposition format.
// - observations as they happen: how long each command took per surface, how long each delivery
//   attempt took per target kind, and its outcome (the runner and the outbox worker report them).
// Label values are kinds and surfaces, never ids, URLs or titles; a scrape costs the collectors'
// indexed counts, not a pass over history.

export interface Sample {
  name: string;
  help: string;
  type: 'gauge' | 'counter';
  values: Array<{ labels?: Record<string, string>; value: number }>;
}

export type Collector = () => Sample[];

/** What the runner and the outbox worker report as it happens. */
export interface Observer {
  command(surface: string, seconds: number): void;
  delivery(kind: string, outcome: 'delivered' | 'retried' | 'failed', seconds: number): void;
}

/** Seconds: from a fast in-process command (1 ms) to a delivery that waited out its timeout (30 s). */
const BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export class Metrics implements Observer {
  readonly registry = new Registry();
  private readonly bridged = new Map<string, Gauge | Counter>();
  private readonly commandSeconds: Histogram<'surface'>;
  private readonly deliverySeconds: Histogram<'kind'>;
  private readonly deliveries: Counter<'kind' | 'outcome'>;
  private defaults = false;

  private collectors: readonly Collector[] = [];

  constructor() {
    this.commandSeconds = new Histogram({
      name: 'sitrep_command_duration_seconds',
      help: 'Time to run a command, from its text to its answer, by surface',
      labelNames: ['surface'],
      buckets: BUCKETS,
      registers: [this.registry],
    });
    this.deliverySeconds = new Histogram({
      name: 'sitrep_delivery_duration_seconds',
      help: 'Time of one delivery attempt to its upstream, by target kind',
      labelNames: ['kind'],
      buckets: BUCKETS,
      registers: [this.registry],
    });
    this.deliveries = new Counter({
      name: 'sitrep_deliveries_total',
      help: 'Delivery attempts this process made, by target kind and outcome (delivered, retried, failed: dead-lettered)',
      labelNames: ['kind', 'outcome'],
      registers: [this.registry],
    });
  }

  /** The collectors asked on every scrape (the array itself: a test may instrument it in place). */
  collectFrom(collectors: readonly Collector[]): void {
    this.collectors = collectors;
  }

  command(surface: string, seconds: number): void {
    this.commandSeconds.observe({ surface }, seconds);
  }

  delivery(kind: string, outcome: 'delivered' | 'retried' | 'failed', seconds: number): void {
    this.deliverySeconds.observe({ kind }, seconds);
    this.deliveries.inc({ kind, outcome });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text. Default process metrics start with the first scrape (not with every test's app). */
  async render(): Promise<string> {
    if (!this.defaults) {
      collectDefaultMetrics({ register: this.registry });
      this.defaults = true;
    }
    for (const c of this.collectors) for (const s of c()) this.set(s);
    return this.registry.metrics();
  }

  private set(s: Sample): void {
    let m = this.bridged.get(s.name);
    if (!m) {
      const labelNames = [...new Set(s.values.flatMap((v) => Object.keys(v.labels ?? {})))];
      const conf = { name: s.name, help: s.help, labelNames, registers: [this.registry] };
      m = s.type === 'counter' ? new Counter(conf) : new Gauge(conf);
      this.bridged.set(s.name, m);
    }
    m.reset();
    for (const v of s.values) {
      if (m instanceof Counter) m.inc(v.labels ?? {}, v.value);
      else m.set(v.labels ?? {}, v.value);
    }
  }
}
