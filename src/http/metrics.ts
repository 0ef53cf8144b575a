// Prometheus text exposition. Sources register a collector; /metrics asks each one.
export interface Sample {
  name: string;
  help: string;
  type: 'gauge' | 'counter';
  values: Array<{ labels?: Record<string, string>; value: number }>;
}

export type Collector = () => Sample[];

const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

export function renderMetrics(collectors: readonly Collector[]): string {
  const lines: string[] = [];
  for (const c of collectors) {
    for (const s of c()) {
      lines.push(`# HELP ${s.name} ${s.help}`, `# TYPE ${s.name} ${s.type}`);
      for (const v of s.values) {
        const labels =
          v.labels && Object.keys(v.labels).length
            ? `{${Object.entries(v.labels)
                .map(([k, x]) => `${k}="${esc(x)}"`)
                .join(',')}}`
            : '';
        lines.push(`${s.name}${labels} ${v.value}`);
      }
    }
  }
  return lines.join('\n') + '\n';
}
