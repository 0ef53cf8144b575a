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
}

export interface BenchResult {
  name: string;
  /** One line on what was run against what. */
  setup: string;
  figures: BenchFigure[];
  /** Anything a reader should know (peak RSS, what was not measured and why). */
  notes?: string[];
}
