import { Agent, request } from 'node:http';

// The load generator for bench/summary.ts (run in its own process by bench/summary-client.ts, so
// that its own work and garbage collection do not sit on the servers' event loop or heap):
// `connections` keep-alive sockets, each sending its next GET as soon as the previous answer is
// read, until the time or request budget runs out.

export interface LoadSpec {
  url: string;
  connections: number;
  durationMs: number;
  maxRequests: number;
  /**
   * Total requests per second across all connections. Unset: each connection sends again as soon
   * as it has an answer (saturation, for throughput). Set: each connection keeps a schedule and
   * latency counts from the scheduled time, so queueing behind a slow answer is not hidden.
   */
  ratePerSec?: number;
}

export interface LoadResult {
  url: string;
  requests: number;
  errors: number;
  non200: number;
  elapsedMs: number;
  /** Latencies in ms, sorted ascending. */
  latencies: number[];
}

export async function run(spec: LoadSpec): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: spec.connections, maxFreeSockets: spec.connections });
  const latencies = new Float64Array(spec.maxRequests);
  let requests = 0;
  let errors = 0;
  let non200 = 0;
  const start = performance.now();
  const deadline = start + spec.durationMs;
  const one = (scheduled?: number) =>
    new Promise<void>((resolve) => {
      // A timer may fire up to a millisecond early (the loop's clock is coarse): a request sent
      // before its scheduled time counts from when it was sent, one sent late from its schedule.
      const now = performance.now();
      // The earlier of the two: a late send (the client's own loop was busy, or the connection was
      // still waiting for its previous answer) must count its wait, or the queueing is hidden.
      const t0 = scheduled === undefined ? now : Math.min(scheduled, now);
      const req = request(spec.url, { agent, method: 'GET' }, (res) => {
        if (res.statusCode !== 200) non200++;
        res.on('data', () => undefined);
        res.on('end', () => {
          if (requests < latencies.length) latencies[requests] = performance.now() - t0;
          requests++;
          resolve();
        });
        res.on('error', () => {
          errors++;
          resolve();
        });
      });
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end();
    });
  const loop = async () => {
    while (performance.now() < deadline && requests + errors < spec.maxRequests) await one();
  };
  const paced = async (i: number) => {
    const interval = (spec.connections / spec.ratePerSec!) * 1000;
    let next = start + (interval * i) / spec.connections;
    while (next < deadline && requests + errors < spec.maxRequests) {
      const wait = next - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      await one(next);
      next += interval;
    }
  };
  await Promise.all(Array.from({ length: spec.connections }, (_, i) => (spec.ratePerSec ? paced(i) : loop())));
  const elapsedMs = performance.now() - start;
  agent.destroy();
  const kept = Array.from(latencies.subarray(0, Math.min(requests, latencies.length))).sort((a, b) => a - b);
  return { url: spec.url, requests, errors, non200, elapsedMs, latencies: kept };
}
