import { afterEach, describe, expect, it } from 'vitest';
import { rowCounts } from '../helpers.js';
import { startHarness, type Harness } from './harness.js';

// With MICROSOFT_APP_ID set, POST /api/messages checks the Bot Framework JWT (the Agents SDK's
// middleware) before reading the body: anything unauthenticated gets 401 and writes nothing.

const AUTH_ENV = {
  MICROSOFT_APP_ID: '00000000-0000-0000-0000-00000000b07',
  MICROSOFT_APP_PASSWORD: 'not-a-real-secret',
  MICROSOFT_APP_TENANT_ID: '11111111-1111-1111-1111-111111111111',
};

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('inbound auth on (MICROSOFT_APP_ID set)', () => {
  it.each([
    ['no Authorization header', {}],
    ['a malformed header', { authorization: 'Basic abc' }],
    ['a bearer token that is not a JWT', { authorization: 'Bearer not-a-jwt' }],
    // (audience mismatch is decided before any key lookup, so no JWKS fetch leaves the machine)
    [
      'a JWT for another bot',
      {
        authorization: `Bearer ${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from('{"aud":"another-bot","iss":"https://api.botframework.com"}').toString('base64url')}.`,
      },
    ],
  ])('refuses %s with 401 and writes nothing', async (_name, headers) => {
    h = await startHarness(AUTH_ENV);
    const before = rowCounts(h.app.db);
    const res = await h.send(h.mention('channel incidents'), headers);
    expect(res.status).toBe(401);
    const res2 = await h.send(h.execute({ sitrep: 'sitrep.approve', draft: 'D-1' }, { rootId: '1' }), headers);
    expect(res2.status).toBe(401);
    expect(rowCounts(h.app.db)).toEqual(before);
    expect(h.fake.calls).toEqual([]);
  });

  it('UserAssignedMSI configures too, and still refuses unauthenticated requests', async () => {
    h = await startHarness({
      MICROSOFT_APP_ID: '00000000-0000-0000-0000-00000000b07',
      MICROSOFT_APP_TYPE: 'UserAssignedMSI',
      MICROSOFT_APP_TENANT_ID: AUTH_ENV.MICROSOFT_APP_TENANT_ID,
    });
    const before = rowCounts(h.app.db);
    expect((await h.send(h.mention('help'))).status).toBe(401);
    expect(rowCounts(h.app.db)).toEqual(before);
  });
});

describe('inbound auth off (MICROSOFT_APP_ID unset)', () => {
  it('serves POST /api/messages without a token', async () => {
    h = await startHarness();
    expect((await h.send(h.mention('help'))).status).toBe(200);
  });
});

describe('serviceUrl binding (auth on)', () => {
  it('a token issued for one serviceUrl cannot direct replies to another host', async () => {
    const { serviceUrlMatches } = await import('../../adapters/teams/inbound.js');
    expect(serviceUrlMatches(undefined, 'http://127.0.0.1:1/amer/')).toBe(true); // auth off / no claim
    expect(serviceUrlMatches('https://smba.trafficmanager.net/amer/', 'https://smba.trafficmanager.net/emea/')).toBe(true);
    expect(serviceUrlMatches('https://smba.trafficmanager.net/amer/', 'https://evil.example/amer/')).toBe(false);
    expect(serviceUrlMatches('not a url', 'https://smba.trafficmanager.net/amer/')).toBe(false);
  });
});
