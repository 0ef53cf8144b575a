// What every benchmark returns, so `npm run bench` can print one table and write bench/results.md.
// A figure is always measured against a baseline run in the same process or run, never against a
// number remembered from elsewhere; `met` says whether the target held, and a miss is reported,
// not hidden.

export interface BenchFigure {
  /** What was measured, e.g. "fan-out to 5,000 webhooks: deliveries/s". */
  label: string;
  value: number;
  unit: string;
  /** The baseline's figure, measured in the same run (absent for figures that are not ratios). */
  baseline?: number;
  /** value / baseline, or baseline / value when a lower value is better: always "higher is better". */
  ratio?: number;
  /** The target as written in the issue, e.g. "≥ 0.7× of a raw fetch loop". */
  target?: string;
  met?: boolean;
  /**
   * For a benchmark that runs Sitrep on both engines: which one this figure is of. bench/run.ts
   * names it beside the benchmark, so each PostgreSQL row reads against its SQLite row.
   */
  engine?: 'SQLite' | 'PostgreSQL';
  /**
   * Set when the figure could not be measured in this run: why, as the row should say it
   * ("skipped: no PostgreSQL server", "failed: …"); `value` is then meaningless. A skip is not a
   * miss; a failure is (`met: false`).
   */
  notMeasured?: string;
}

export interface BenchResult {
  name: string;
  /** One line on what was run against what. */
  setup: string;
  figures: BenchFigure[];
  /** Anything a reader should know (peak RSS, what was not measured and why). */
  notes?: string[];
}
