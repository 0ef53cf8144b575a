import { describe, expect, it } from 'vitest';
import { checkWebhookUrl, classifyHost, classifyIp, refuseAddress, type AddressClass } from '../../src/mirror/address.js';

// The address policy judges bytes, not spellings: every way of writing an address that reaches
// a blocked IPv4 or IPv6 range lands in the same class. (The CLI table in
// test/webhook/address-policy.test.ts runs the URL forms through the real binary.)

const METADATA = [
  '169.254.169.254',
  '::169.254.169.254', // IPv4-compatible, dotted
  '::a9fe:a9fe', // IPv4-compatible, hex
  '0:0:0:0:0:0:a9fe:a9fe',
  '0000:0000:0000:0000:0000:0000:169.254.169.254',
  '::ffff:169.254.169.254', // IPv4-mapped
  '::ffff:a9fe:a9fe',
  '::FFFF:A9FE:A9FE',
  '0:0:0:0:0:ffff:169.254.169.254',
  '::ffff:0:169.254.169.254', // IPv4-translated
  '64:ff9b::169.254.169.254', // NAT64 well-known prefix
  '64:ff9b::a9fe:a9fe',
  '0064:ff9b:0000:0000:0000:0000:a9fe:a9fe',
  '64:ff9b:1::a9fe:a9fe', // NAT64 local-use prefix, /96 placement
  '64:ff9b:1:a9fe:a9:fe00::', // local-use /48 placement (RFC 6052: octet 8 is skipped)
  '2002:a9fe:a9fe::1', // 6to4
  '2001:0:4136:e378:8000:63bf:5601:5601', // Teredo client 169.254.169.254, obfuscated
  '[::ffff:a9fe:a9fe]',
  '::ffff:169.254.169.254%eth0', // a zone id changes nothing
  '0::ffff:169.254.169.254',
  '::ffff:0a9fe:0a9fe', // leading zeros
  'fd00:ec2::254',
  'FD00:0EC2:0000:0000:0000:0000:0000:0254',
  '169.254.170.2',
  '::ffff:100.100.100.200',
];

const TABLE: Array<[string, AddressClass]> = [
  ...METADATA.map((ip): [string, AddressClass] => [ip, 'metadata']),
  ['169.254.10.1', 'link-local'],
  ['::ffff:169.254.10.1', 'link-local'],
  ['::a9fe:a01', 'link-local'],
  ['64:ff9b::169.254.10.1', 'link-local'],
  ['fe80::1', 'link-local'],
  ['FE80::1%25eth0', 'link-local'],
  ['febf:ffff::1', 'link-local'],
  ['127.0.0.1', 'loopback'],
  ['0.0.0.0', 'loopback'],
  ['::1', 'loopback'],
  ['::', 'loopback'],
  ['0:0:0:0:0:0:0:1', 'loopback'],
  ['::ffff:127.0.0.1', 'loopback'],
  ['::ffff:7f00:1', 'loopback'],
  ['::127.0.0.1', 'loopback'],
  ['64:ff9b::7f00:1', 'loopback'],
  ['10.2.3.4', 'private'],
  ['::ffff:10.2.3.4', 'private'],
  ['::a02:304', 'private'],
  ['64:ff9b::192.168.0.1', 'private'],
  // Local-use NAT64: every placement of the IPv4 address is judged, and the worst wins (here the
  // /48 placement reads 0.0.0.0); it is never public, as it exists only inside an operator's network.
  ['64:ff9b:1::808:808', 'loopback'],
  ['2002:c0a8:1::', 'private'],
  ['172.20.0.1', 'private'],
  ['fd12::1', 'private'],
  ['fec0::1', 'private'],
  ['8.8.8.8', 'public'],
  ['::ffff:8.8.8.8', 'public'],
  ['64:ff9b::808:808', 'public'],
  ['2606:4700::1111', 'public'],
  ['2a00:1450:4001:80e::200e', 'public'],
];

describe('address classes, whatever the spelling', () => {
  it.each(TABLE)('%s is %s', (ip, cls) => {
    expect(classifyIp(ip)).toBe(cls);
    expect(classifyHost(ip.includes(':') && !ip.startsWith('[') ? `[${ip}]` : ip)).toBe(cls);
  });

  it('cloud metadata stays refused with SITREP_WEBHOOK_ALLOW_LINK_LOCAL; other link-local addresses become allowed', async () => {
    const linkLocal = { publicOnly: false, allowLinkLocal: true };
    for (const ip of METADATA) expect(refuseAddress(ip.replace(/^\[|\]$/g, ''), 'hooks.example.com', linkLocal), ip).toMatch(/cloud metadata address/);
    expect(refuseAddress('169.254.10.1', 'hooks.example.com', linkLocal)).toBeNull();
    expect(refuseAddress('fe80::1', 'hooks.example.com', linkLocal)).toBeNull();
    expect(checkWebhookUrl('http://[::ffff:169.254.10.1]/', linkLocal).ok).toBe(true);
    expect(checkWebhookUrl('http://[::ffff:169.254.169.254]/', linkLocal).ok).toBe(false);
  });

  it('names the IPv4 address a disguised IPv6 one stands for', async () => {
    const p = { publicOnly: false, allowLinkLocal: false };
    expect(refuseAddress('::ffff:a9fe:a9fe', 'hooks.example.com', p)).toBe(
      'hooks.example.com (::ffff:a9fe:a9fe, that is 169.254.169.254) is a cloud metadata address; webhooks may never point there',
    );
    const r = checkWebhookUrl('http://[::169.254.169.254]/latest/', p);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toBe('[::a9fe:a9fe] (169.254.169.254) is a cloud metadata address; webhooks may never point there');
    expect(refuseAddress('::1', 'localhost', { publicOnly: true, allowLinkLocal: false })).toBe(
      'localhost (::1) is a loopback address and SITREP_WEBHOOK_PUBLIC_ONLY=true refuses those',
    );
  });

  it('reads odd IPv4 forms of a host the way a URL parser does', async () => {
    expect(classifyHost('0xA9FEA9FE')).toBe('metadata');
    expect(classifyHost('0251.0376.0251.0376')).toBe('metadata');
    expect(classifyHost('2852039166')).toBe('metadata');
    expect(classifyHost('169.254.169.254.')).toBe('metadata');
    expect(classifyHost('127.1')).toBe('loopback');
    expect(classifyHost('hooks.example.com')).toBe('public');
  });
});
