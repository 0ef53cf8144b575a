import { run, type LoadSpec } from './summary-load.js';

// The child process that drives bench/summary.ts's load: the parent forks it once and sends one
// LoadSpec per phase; it answers with the phase's LoadResult (latencies measured here, on an
// event loop that serves nothing). It exits when the parent disconnects.

process.on('message', (spec: LoadSpec) => {
  run(spec).then(
    (r) => process.send?.(r),
    (e: unknown) => process.send?.({ error: String(e) }),
  );
});
process.on('disconnect', () => process.exit(0));
