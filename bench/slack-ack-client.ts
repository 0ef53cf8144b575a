import { createHmac } from 'node:crypto';
import { Agent, request } from 'node:http';

// The load generator for bench/slack-ack.ts, in its own process (forked with `--client`) so that
// its turns do not share an event loop with anything else: the parent sends one RoundSpec per
// round and gets the RoundResult back, with latencies measured here. Exits when the parent
// disconnects.

export const SECRET = 'bench-signing-secret';
export const CHANNEL = 'C0INCIDENTS';
export const CONNECTIONS = 50;
const SLOW_MS = 3_000;
const TIMEOUT_MS = 10_000;
/** A round stops issuing requests after this long, however slow the server got. */
const ROUND_CAP_MS = 60_000;

export interface RoundSpec {
  url: string;
  total: number;
  responseUrl: string;
  /**
   * Unset: each connection sends its next request as soon as it has the answer (saturation, for
   * throughput). Set: requests start on a schedule at this total rate, spread over the
   * connections, and latency counts from the scheduled start, so time spent waiting for a busy
   * connection is not hidden.
   */
  ratePerSec?: number;
}

export interface RoundResult {
  connections: number;
  requests: number;
  seconds: number;
  latencies: number[];
  slow: number;
  errors: number;
}

function post(agent: Agent, url: string, body: string): Promise<number> {
  const ts = Math.floor(Date.now() / 1000);
  const signature = 'v0=' + createHmac('sha256', SECRET).update(`v0:${ts}:${body}`).digest('hex');
  return new Promise((resolve) => {
    const req = request(
      `${url}/slack/events`,
      {
        method: 'POST',
        agent,
        timeout: TIMEOUT_MS,
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': Buffer.byteLength(body),
          'x-slack-request-timestamp': String(ts),
          'x-slack-signature': signature,
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

async function round({ url, total, responseUrl, ratePerSec }: RoundSpec): Promise<RoundResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  let connections = 0;
  agent.on('free', () => undefined);
  const create = agent.createConnection.bind(agent);
  agent.createConnection = ((...args: Parameters<typeof create>) => {
    connections++;
    return create(...args);
  }) as typeof create;
  const latencies: number[] = [];
  let next = 0;
  let slow = 0;
  let errors = 0;
  const started = performance.now();
  const interval = ratePerSec ? (CONNECTIONS / ratePerSec) * 1000 : 0;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async (_, c) => {
      let due = started + (interval * c) / CONNECTIONS;
      while (next < total && performance.now() - started < ROUND_CAP_MS) {
        if (ratePerSec) {
          const wait = due - performance.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        }
        const i = next++;
        const body = new URLSearchParams({
          token: 'legacy',
          team_id: 'T0BENCH',
          channel_id: CHANNEL,
          user_id: `U0USER${i % 20}`,
          command: '/incident',
          text: `note INC-1 bench note ${i}: replica lag at ${i % 60}s`,
          api_app_id: 'A0BENCH',
          response_url: responseUrl,
          trigger_id: `${i}.bench`,
        }).toString();
        // A paced request counts from its scheduled time, or from when it was sent if the timer
        // fired a little early.
        const t = ratePerSec ? Math.min(due, performance.now()) : performance.now();
        due += interval;
        const status = await post(agent, url, body);
        const ms = performance.now() - t;
        latencies.push(ms);
        if (status !== 200) errors++;
        if (ms >= SLOW_MS) slow++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  return { requests: latencies.length, seconds, latencies, slow, errors, connections };
}

if (process.argv[2] === '--client') {
  process.on('message', (spec: RoundSpec) => {
    round(spec).then(
      (r) => process.send?.(r),
      (e: unknown) => process.send?.({ error: String(e) }),
    );
  });
  process.on('disconnect', () => process.exit(0));
}
