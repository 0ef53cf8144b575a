import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

// For the Slack benchmark: a loopback stand-in for the Slack Web API and response_url that answers
// every call with a plausible `ok: true` at once, so the benchmark measures Sitrep, not a fake.

export interface Sink {
  apiUrl: string;
  origin: string;
  count: () => number;
  close(): Promise<void>;
}

export async function startSlackSink(): Promise<Sink> {
  let n = 0;
  let seq = 0;
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      n += 1;
      seq += 1;
      const ts = `${1_700_000_000 + seq}.000100`;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, ts, channel: 'C0INCIDENTS', message_ts: ts }));
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    apiUrl: `${origin}/api/`,
    origin,
    count: () => n,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
