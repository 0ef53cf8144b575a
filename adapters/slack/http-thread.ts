import { Worker } from 'node:worker_threads';

// Slack's HTTP calls, made on a thread of their own. Building a request, writing it and reading
// its answer is most of what a post costs the process (Node's HTTP client), and a fan-out to a few
// hundred channels made the event loop that answers Slack's acks, serves the status page and
// records the outbox's outcomes do all of it. Here the thread owns the connections (one keep-alive
// pool per origin) and hands back each answer's status, the headers a caller reads, and its text;
// the caller checks and parses it on its own thread as before. One thread per process, started on
// the first call; it holds the process open only while calls are in flight. If it dies, the calls
// in flight fail as a dropped connection does, and the next call starts a new one.

export interface ThreadCall {
  secure: boolean;
  hostname: string;
  port: string | undefined;
  path: string;
  headers: Record<string, string | number>;
  body: string;
  timeoutMs: number;
  /** Connections kept per origin at most. */
  maxSockets: number;
  /** An answer larger than this is refused. */
  maxBytes: number;
}

/** What came back: the answer (headers only when not a 200), or why there is none. */
export type ThreadAnswer = { status: number; text: string; headers?: Record<string, string> } | { error: string };

const SOURCE = `
const { parentPort } = require('node:worker_threads');
const http = require('node:http');
const https = require('node:https');
const agents = new Map();
const inFlight = new Map();
function agentFor(m) {
  const key = (m.secure ? 'https://' : 'http://') + m.hostname + ':' + (m.port || '');
  let agent = agents.get(key);
  if (!agent) {
    agent = new (m.secure ? https : http).Agent({ keepAlive: true, maxSockets: m.maxSockets, scheduling: 'lifo' });
    agents.set(key, agent);
  }
  return agent;
}
parentPort.on('message', (m) => {
  if (m.abort !== undefined) {
    const req = inFlight.get(m.abort);
    if (req) req.destroy(new Error('aborted'));
    return;
  }
  let answered = false;
  const answer = (a) => {
    if (answered) return;
    answered = true;
    inFlight.delete(m.id);
    a.id = m.id;
    parentPort.postMessage(a);
  };
  let req;
  try {
    req = (m.secure ? https : http).request(
      { protocol: m.secure ? 'https:' : 'http:', hostname: m.hostname, port: m.port, path: m.path, method: 'POST', agent: agentFor(m), headers: m.headers },
      (res) => {
        const chunks = [];
        let size = 0;
        res.on('data', (c) => {
          size += c.length;
          if (size > m.maxBytes) {
            res.destroy();
            answer({ error: 'answer larger than ' + m.maxBytes + ' bytes' });
          } else chunks.push(c);
        });
        res.on('error', (err) => answer({ error: err.message }));
        // A connection that closes mid-answer may end the answer without an error on its way.
        res.on('close', () => {
          if (!res.complete) answer({ error: 'the connection closed before the answer was complete' });
        });
        res.on('end', () => {
          const status = res.statusCode || 0;
          const a = { status, text: Buffer.concat(chunks).toString('utf8') };
          if (status !== 200) {
            const headers = {};
            for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
            a.headers = headers;
          }
          answer(a);
        });
      },
    );
  } catch (err) {
    answer({ error: String((err && err.message) || err) });
    return;
  }
  inFlight.set(m.id, req);
  req.setTimeout(m.timeoutMs, () => req.destroy(new Error('no answer within ' + m.timeoutMs + ' ms')));
  req.on('error', (err) => answer({ error: err.message }));
  req.end(m.body);
});
`;

interface Thread {
  worker: Worker;
  pending: Map<number, (a: ThreadAnswer) => void>;
  /** Whether anything has come back from it yet. */
  answered: boolean;
}

let thread: Thread | null = null;
let nextId = 1;

function start(): Thread {
  const t: Thread = { worker: new Worker(SOURCE, { eval: true }), pending: new Map(), answered: false };
  t.worker.unref();
  t.worker.on('message', (a: ThreadAnswer & { id: number }) => {
    t.answered = true;
    const done = t.pending.get(a.id);
    if (!done) return;
    t.pending.delete(a.id);
    if (t.pending.size === 0) t.worker.unref();
    done(a);
  });
  const fail = (why: string) => {
    if (thread === t) thread = null;
    const waiting = [...t.pending.values()];
    t.pending.clear();
    for (const done of waiting) done({ error: why });
  };
  t.worker.on('error', (err) => fail(`the HTTP thread failed: ${err.message}`));
  t.worker.on('exit', (code) => fail(`the HTTP thread stopped (${code})`));
  return t;
}

/**
 * False while the thread is starting, until its first answer: calls then wait for the thread, not
 * for Slack.
 */
export function httpThreadReady(): boolean {
  return thread?.answered ?? false;
}

/**
 * Makes one POST on the HTTP thread. Resolves with the answer or why there is none; never rejects.
 * A `signal` that fires ends the call at once (the thread drops the request).
 */
export function callOnThread(call: ThreadCall, signal?: AbortSignal): Promise<ThreadAnswer> {
  if (signal?.aborted) return Promise.resolve({ error: 'The operation was aborted' });
  const t = (thread ??= start());
  const id = nextId++;
  return new Promise<ThreadAnswer>((resolve) => {
    let onAbort: (() => void) | undefined;
    if (signal) {
      onAbort = () => {
        if (!t.pending.delete(id)) return;
        if (t.pending.size === 0) t.worker.unref();
        t.worker.postMessage({ abort: id });
        resolve({ error: 'The operation was aborted' });
      };
      signal.addEventListener('abort', onAbort, { once: true });
    }
    t.pending.set(id, (a) => {
      if (onAbort) signal?.removeEventListener('abort', onAbort);
      resolve(a);
    });
    if (t.pending.size === 1) t.worker.ref();
    t.worker.postMessage({ id, ...call });
  });
}

/** Stops the thread (the calls in flight fail as dropped connections do); the next call starts another. */
export async function stopHttpThread(): Promise<void> {
  const t = thread;
  if (!t) return;
  // No call goes to it from now on (its 'exit' comes later); its calls in flight fail on 'exit'.
  thread = null;
  await t.worker.terminate();
}
