import { BlockList, isIP } from 'node:net';

// Where a webhook may point. Checked when a subscription is made (the literal URL) and again at
// every delivery (what the host name resolves to), so a name that later resolves to the cloud
// metadata service is still refused.

export type AddressClass = 'public' | 'loopback' | 'private' | 'link-local' | 'metadata';

export interface AddressPolicy {
  /** SITREP_WEBHOOK_PUBLIC_ONLY: refuse loopback and private addresses too. */
  publicOnly: boolean;
  /** SITREP_WEBHOOK_ALLOW_LINK_LOCAL: allow link-local and metadata addresses (never by default). */
  allowLinkLocal: boolean;
}

const METADATA_IPS = new Set(['169.254.169.254', '169.254.170.2', '169.254.170.23', '100.100.100.200', 'fd00:ec2::254', 'fd00:ec2::23']);
const METADATA_NAMES = new Set(['metadata', 'metadata.google.internal', 'metadata.goog', 'instance-data', 'instance-data.ec2.internal', 'metadata.azure.internal']);

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addSubnet('0.0.0.0', 8, 'ipv4'); // 0.0.0.0 reaches this host
loopback.addAddress('::1', 'ipv6');
loopback.addAddress('::', 'ipv6');

const linkLocal = new BlockList();
linkLocal.addSubnet('169.254.0.0', 16, 'ipv4');
linkLocal.addSubnet('fe80::', 10, 'ipv6');

const privateNets = new BlockList();
privateNets.addSubnet('10.0.0.0', 8, 'ipv4');
privateNets.addSubnet('172.16.0.0', 12, 'ipv4');
privateNets.addSubnet('192.168.0.0', 16, 'ipv4');
privateNets.addSubnet('100.64.0.0', 10, 'ipv4'); // carrier-grade NAT
privateNets.addSubnet('198.18.0.0', 15, 'ipv4'); // benchmarking
privateNets.addSubnet('fc00::', 7, 'ipv6'); // unique local

/** An IPv4 address hidden in an IPv6 one (::ffff:a.b.c.d, also written ::ffff:a9fe:a9fe). */
function embeddedV4(ip: string): string | null {
  const lower = ip.toLowerCase();
  const dotted = /^(?:::ffff:|::ffff:0:|::)(\d{1,3}(?:\.\d{1,3}){3})$/.exec(lower);
  if (dotted) return dotted[1]!;
  const hex = /^(?:::ffff:|::ffff:0:)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (hex) {
    const a = parseInt(hex[1]!, 16);
    const b = parseInt(hex[2]!, 16);
    return `${a >> 8}.${a & 255}.${b >> 8}.${b & 255}`;
  }
  return null;
}

/** Classifies a literal IP address. */
export function classifyIp(ip: string): AddressClass {
  const bare = ip.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const v = isIP(bare);
  if (v === 6) {
    const v4 = embeddedV4(bare);
    if (v4 && isIP(v4) === 4) return classifyIp(v4);
  }
  if (v === 0) return 'public';
  const type = v === 4 ? 'ipv4' : 'ipv6';
  if (METADATA_IPS.has(bare.toLowerCase())) return 'metadata';
  if (loopback.check(bare, type)) return 'loopback';
  if (linkLocal.check(bare, type)) return 'link-local';
  if (privateNets.check(bare, type)) return 'private';
  return 'public';
}

/** Classifies a host as written in a URL: a literal IP, or a well-known name. Other names are 'public' until resolved. */
export function classifyHost(host: string): AddressClass {
  const h = host.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase();
  if (isIP(h)) return classifyIp(h);
  if (METADATA_NAMES.has(h)) return 'metadata';
  if (h === 'localhost' || h.endsWith('.localhost')) return 'loopback';
  return 'public';
}

/** Null when allowed, else why not (one line, says which setting would allow it). */
export function refusal(cls: AddressClass, what: string, policy: AddressPolicy): string | null {
  switch (cls) {
    case 'public':
      return null;
    case 'metadata':
    case 'link-local':
      return policy.allowLinkLocal
        ? null
        : `${what} is a ${cls === 'metadata' ? 'cloud metadata' : 'link-local'} address; webhooks may not point there (SITREP_WEBHOOK_ALLOW_LINK_LOCAL=true allows it)`;
    case 'loopback':
    case 'private':
      return policy.publicOnly ? `${what} is a ${cls} address and SITREP_WEBHOOK_PUBLIC_ONLY=true refuses those` : null;
  }
}

export type WebhookUrlCheck = { ok: true; url: URL } | { ok: false; reason: string };

/** Validates a webhook URL as typed after `webhook:`. No network: names are checked again at delivery. */
export function checkWebhookUrl(raw: string, policy: AddressPolicy): WebhookUrlCheck {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: `"${raw}" is not a URL; write webhook:https://example.com/hooks/sitrep` };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return { ok: false, reason: `webhook URLs must be http or https, not ${url.protocol.replace(/:$/, '')}; write webhook:https://…` };
  }
  if (!url.hostname) return { ok: false, reason: `"${raw}" has no host; write webhook:https://example.com/hooks/sitrep` };
  if (url.hash) return { ok: false, reason: 'a webhook URL may not have a #fragment' };
  const why = refusal(classifyHost(url.hostname), url.hostname, policy);
  if (why) return { ok: false, reason: why };
  return { ok: true, url };
}
