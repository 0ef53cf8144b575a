import { Agent } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeSlackApi, type FakeSlackApi } from '../fakes/slack-api.js';
import { sign } from './harness.js';
import { ensureBuilt, freePort, peakRss, signedSlash, startServerProcess, tempDir, type ServerProcess } from './process.js';

// POST /slack/events reads at most 1 MiB of a body: an upload over that is answered 413 before it
// is held in memory (and before its signature could be checked), whether it says its size up front
// or streams chunk after chunk. Measured on a real server process: its peak resident memory must
// not grow by anything like the body's size, and nothing is written.

beforeAll(ensureBuilt, 180_000);

const MiB = 1024 * 1024;

let fake: FakeSlackApi | undefined;
let server: ServerProcess | undefined;
afterEach(async () => {
  await server?.kill9();
  await fake?.close();
});

function rowCounts(file: string): Record<string, number> {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const tables = db
      .prepare<[], { name: string }>("select name from sqlite_master where type = 'table' and name not like 'sqlite_%' and name not like '__drizzle%'")
      .all();
    return Object.fromEntries(tables.map(({ name }) => [name, (db.prepare(`select count(*) as n from "${name}"`).get() as { n: number }).n]));
  } finally {
    db.close();
  }
}

/**
 * Sends a request head, then up to `total` bytes of body in 64 KiB pieces (one buffer, reused, so
 * this process holds no more than that), stopping as soon as an answer arrives or the server
 * closes the connection. Resolves with the status line's code and how many body bytes went out.
 */
function upload(port: number, head: string, total: number, chunked: boolean): Promise<{ status: number; sent: number }> {
  const piece = Buffer.alloc(64 * 1024, 'a');
  const frame = chunked ? Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')]) : piece;
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let answer = '';
    let sent = 0;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      sock.destroy();
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0), sent });
    };
    sock.on('data', (d) => {
      answer += d.toString('latin1');
      if (answer.includes('\r\n\r\n')) finish();
    });
    // A write may fail (the server closed on us) while its answer is still unread: only the
    // close, after everything readable was read, settles what we got.
    sock.on('error', () => undefined);
    sock.on('close', finish);
    const pump = () => {
      while (!done && sent < total) {
        sent += piece.length;
        if (!sock.write(frame)) return void sock.once('drain', pump);
      }
      if (!done && chunked) sock.write('0\r\n\r\n');
    };
    sock.write(head, pump);
  });
}

describe('request body limits on POST /slack/events', () => {
  it('over 1 MiB is 413 before it is buffered: a declared Content-Length, and a chunked body that keeps streaming; memory stays flat and nothing is written', async () => {
    fake = await startFakeSlackApi({ token: 'xoxb-test-token' });
    const db = join(tempDir(), 'sitrep.db');
    const port = await freePort();
    server = await startServerProcess({ db, port, apiUrl: fake.apiUrl });
    const agent = new Agent({ keepAlive: true });
    // A signed request just under the limit is read and answered (the command itself is refused
    // by the grammar, in one line): the limit is the body's size, not something smaller.
    const big = await signedSlash(server.url, agent, `note ${'x'.repeat(MiB - 4096)}`, { responseUrl: fake.responseUrl('big') });
    expect(big.status).toBe(200);
    expect(JSON.parse(big.body).text).toMatch(/the limit is \d+/);
    agent.destroy();
    // The answer goes out before the server drops that request's inbox row (a request that asked
    // for nothing lasting); wait for it, so the counts below start from a settled server.
    for (const end = Date.now() + 10_000; rowCounts(db).inbox !== 0 && Date.now() < end; ) await new Promise((r) => setTimeout(r, 20));
    const before = rowCounts(db);
    const peakBefore = peakRss(server.child.pid!);

    const ts = Math.floor(Date.now() / 1000);
    const headers = `x-slack-request-timestamp: ${ts}\r\nx-slack-signature: ${sign('', ts)}\r\ncontent-type: application/x-www-form-urlencoded\r\nhost: 127.0.0.1\r\n`;
    // Says 200 MB and waits with the body: refused on the head alone, nothing of the body read.
    const declared = await upload(port, `POST /slack/events HTTP/1.1\r\n${headers}content-length: ${200 * MiB}\r\n\r\n`, 0, false);
    expect(declared.status, 'declared Content-Length').toBe(413);
    // Chunked, no length, 50 MB on its way: the server reads past 1 MiB, answers 413, discards a
    // bounded amount more so the client reads the answer before the connection closes, and closes.
    // Every attempt must see the 413, not a bare connection reset.
    const outcomes: number[] = [];
    for (let attempt = 0; attempt < 5; attempt++) {
      const streamed = await upload(port, `POST /slack/events HTTP/1.1\r\n${headers}transfer-encoding: chunked\r\n\r\n`, 50 * MiB, true);
      outcomes.push(streamed.status);
      // The server stopped reading: the client could not push the whole 50 MB into it.
      expect(streamed.sent).toBeLessThan(50 * MiB);
    }
    expect(outcomes, 'chunked upload outcomes').toEqual([413, 413, 413, 413, 413]);

    const grew = peakRss(server.child.pid!) - peakBefore;
    expect(grew, `peak RSS grew by ${(grew / MiB).toFixed(1)} MiB`).toBeLessThan(16 * MiB);
    expect(rowCounts(db)).toEqual(before);
    expect(before.inbox).toBe(0);
    // Still serving.
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  }, 60_000);
});
