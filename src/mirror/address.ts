// Where a webhook may point. Checked when a subscription is made (the literal URL) and again at
// every connection (the address the host name resolved to, just before connecting), so a name
// that resolves, or later starts resolving, to the cloud metadata service is still refused.
//
// Addresses are judged by their bytes, never by how they are written: an IPv6 address that
// carries an IPv4 one (IPv4-mapped, IPv4-compatible, IPv4-translated, NAT64, 6to4, Teredo) is
// judged as the IPv4 address it reaches, whatever the spelling (zero-compressed or not, upper or
// lower case, leading zeros, a dotted tail, a zone id).

export type AddressClass = 'public' | 'loopback' | 'private' | 'link-local' | 'metadata';

export interface AddressPolicy {
  /** SITREP_WEBHOOK_PUBLIC_ONLY: refuse loopback and private addresses too. */
  publicOnly: boolean;
  /** SITREP_WEBHOOK_ALLOW_LINK_LOCAL: allow link-local addresses. Cloud metadata addresses stay refused. */
  allowLinkLocal: boolean;
}

type Bytes = readonly number[];

const METADATA_V4 = [
  '169.254.169.254', // AWS, GCP, Azure, Oracle, DigitalOcean, OpenStack instance metadata
  '169.254.170.2', // AWS ECS task metadata and credentials
  '169.254.170.23', // AWS EKS pod identity
  '169.254.0.23', // Tencent Cloud metadata
  '100.100.100.200', // Alibaba Cloud metadata
  '192.0.0.192', // Oracle Cloud legacy metadata
];
const METADATA_V6 = ['fd00:ec2::254', 'fd00:ec2::23']; // AWS instance metadata and EKS pod identity over IPv6
const METADATA_NAMES = new Set([
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'instance-data',
  'instance-data.ec2.internal',
  'metadata.azure.internal',
  'metadata.tencentyun.com',
]);

/** Dotted-quad IPv4 (each part decimal 0–255) to 4 bytes. */
function parseV4(s: string): Bytes | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    out.push(n);
  }
  return out;
}

/** Any textual IPv6 form (with `::`, leading zeros, either case, a dotted IPv4 tail) to 16 bytes. */
function parseV6(s: string): Bytes | null {
  let text = s;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    // A dotted tail stands for the last two groups.
    const v4 = parseV4(text.slice(lastColon + 1));
    if (!v4) return null;
    const hex = (hi: number, lo: number) => ((hi << 8) | lo).toString(16);
    text = `${text.slice(0, lastColon + 1)}${hex(v4[0]!, v4[1]!)}:${hex(v4[2]!, v4[3]!)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const groups = (h: string | undefined) => (h ? h.split(':') : []);
  const head = groups(halves[0]);
  const rest = groups(halves[1]);
  const missing = 8 - head.length - rest.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const out: number[] = [];
  for (const g of [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...rest]) {
    if (!/^0*[0-9a-f]{1,4}$/.test(g)) return null;
    const n = parseInt(g, 16);
    out.push(n >> 8, n & 255);
  }
  return out;
}

export type ParsedIp = { family: 4 | 6; bytes: Bytes };

/** A literal address, however written (brackets and a zone id allowed), or null for a name. */
export function parseIp(ip: string): ParsedIp | null {
  const bare = ip
    .trim()
    .replace(/^\[|\]$/g, '')
    .replace(/%.*$/, '')
    .toLowerCase();
  if (!bare) return null;
  if (!bare.includes(':')) {
    const v4 = parseV4(bare);
    return v4 ? { family: 4, bytes: v4 } : null;
  }
  const v6 = parseV6(bare);
  return v6 ? { family: 6, bytes: v6 } : null;
}

const v4Text = (b: Bytes) => b.join('.');

const inV4 = (b: Bytes, net: string, bits: number) => {
  const n = parseV4(net)!;
  const value = (x: Bytes) => ((x[0]! << 24) | (x[1]! << 16) | (x[2]! << 8) | x[3]!) >>> 0;
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return (value(b) & mask) >>> 0 === (value(n) & mask) >>> 0;
};

const prefixIs = (b: Bytes, prefix: Bytes) => prefix.every((x, i) => b[i] === x);

function classifyV4(b: Bytes): AddressClass {
  if (METADATA_V4.includes(v4Text(b))) return 'metadata';
  if (inV4(b, '127.0.0.0', 8) || inV4(b, '0.0.0.0', 8)) return 'loopback'; // 0.0.0.0 reaches this host
  if (inV4(b, '169.254.0.0', 16)) return 'link-local';
  if (
    inV4(b, '10.0.0.0', 8) ||
    inV4(b, '172.16.0.0', 12) ||
    inV4(b, '192.168.0.0', 16) ||
    inV4(b, '100.64.0.0', 10) || // carrier-grade NAT
    inV4(b, '198.18.0.0', 15) // benchmarking
  ) {
    return 'private';
  }
  return 'public';
}

const SEVERITY: readonly AddressClass[] = ['public', 'private', 'loopback', 'link-local', 'metadata'];
const worst = (classes: AddressClass[]) => classes.reduce((a, b) => (SEVERITY.indexOf(b) > SEVERITY.indexOf(a) ? b : a), 'public');

const zeros = (n: number) => Array<number>(n).fill(0);

/**
 * The IPv4 addresses an IPv6 address leads to, if any. Several for the local-use NAT64 prefix,
 * whose operator picks where the IPv4 address sits (RFC 6052 places it differently per prefix
 * length), so every placement is judged.
 */
function embeddedV4(b: Bytes): Bytes[] {
  const at = (...idx: number[]) => idx.map((i) => b[i]!);
  if (prefixIs(b, zeros(12))) return [at(12, 13, 14, 15)]; // IPv4-compatible ::a.b.c.d (also :: and ::1)
  if (prefixIs(b, [...zeros(10), 0xff, 0xff])) return [at(12, 13, 14, 15)]; // IPv4-mapped ::ffff:a.b.c.d
  if (prefixIs(b, [...zeros(8), 0xff, 0xff, 0, 0])) return [at(12, 13, 14, 15)]; // IPv4-translated ::ffff:0:a.b.c.d
  if (prefixIs(b, [0, 0x64, 0xff, 0x9b, ...zeros(8)])) return [at(12, 13, 14, 15)]; // NAT64 64:ff9b::/96
  if (prefixIs(b, [0, 0x64, 0xff, 0x9b, 0, 1])) {
    // NAT64 local use 64:ff9b:1::/48, with the prefix lengths RFC 6052 allows inside it
    return [at(6, 7, 9, 10), at(7, 9, 10, 11), at(9, 10, 11, 12), at(12, 13, 14, 15)];
  }
  if (prefixIs(b, [0x20, 0x02])) return [at(2, 3, 4, 5)]; // 6to4 2002:aabb:ccdd::/48
  if (prefixIs(b, [0x20, 0x01, 0, 0])) return [at(12, 13, 14, 15).map((x) => x ^ 0xff)]; // Teredo client (obfuscated)
  return [];
}

function classifyV6(b: Bytes): AddressClass {
  const hidden = embeddedV4(b);
  if (hidden.length) {
    const cls = worst(hidden.map(classifyV4));
    // The local-use NAT64 prefix only exists inside an operator's own network.
    return prefixIs(b, [0, 0x64, 0xff, 0x9b, 0, 1]) ? worst([cls, 'private']) : cls;
  }
  if (METADATA_V6.some((m) => parseV6(m)!.every((x, i) => b[i] === x))) return 'metadata';
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80) return 'link-local'; // fe80::/10
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0xc0) return 'private'; // fec0::/10, the old site-local
  if ((b[0]! & 0xfe) === 0xfc) return 'private'; // fc00::/7, unique local
  return 'public';
}

/** What a literal address is, and the IPv4 address it stands for when it hides one. */
export function describeIp(ip: string): { cls: AddressClass; v4?: string } | null {
  const parsed = parseIp(ip);
  if (!parsed) return null;
  if (parsed.family === 4) return { cls: classifyV4(parsed.bytes) };
  const cls = classifyV6(parsed.bytes);
  const hidden = embeddedV4(parsed.bytes);
  // :: and ::1 are IPv6's own unspecified and loopback addresses, not IPv4 ones in disguise.
  const own = parsed.bytes.slice(0, 15).every((x) => x === 0) && parsed.bytes[15]! <= 1;
  const shown = own ? undefined : (hidden.find((v) => classifyV4(v) === cls) ?? (hidden.length === 1 ? hidden[0] : undefined));
  return shown ? { cls, v4: v4Text(shown) } : { cls };
}

/** Classifies a literal IP address (anything that is not one is 'public' until resolved). */
export function classifyIp(ip: string): AddressClass {
  return describeIp(ip)?.cls ?? 'public';
}

/** The host as a URL parser sees it: odd IPv4 forms (0xA9FEA9FE, 0251.0376.0251.0376) become dotted quads. */
function canonicalHost(host: string): string {
  const h = host.trim().replace(/\.$/, '').toLowerCase();
  if (h.startsWith('[') || h.includes(':')) return h;
  try {
    return new URL(`http://${h}/`).hostname.replace(/\.$/, '');
  } catch {
    return h;
  }
}

/** Classifies a host as written in a URL: a literal IP, or a well-known name. Other names are 'public' until resolved. */
export function classifyHost(host: string): AddressClass {
  const h = canonicalHost(host);
  const ip = describeIp(h);
  if (ip) return ip.cls;
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
      return `${what} is a cloud metadata address; webhooks may never point there`;
    case 'link-local':
      return policy.allowLinkLocal ? null : `${what} is a link-local address; webhooks may not point there (SITREP_WEBHOOK_ALLOW_LINK_LOCAL=true allows it)`;
    case 'loopback':
    case 'private':
      return policy.publicOnly ? `${what} is a ${cls} address and SITREP_WEBHOOK_PUBLIC_ONLY=true refuses those` : null;
  }
}

/** `what` for a refusal message: the address as written (after its host name, when resolved from one) and the IPv4 address it hides, if any. */
function nameOf(address: string, host?: string): string {
  const v4 = describeIp(address)?.v4;
  const inner = v4 && v4 !== address ? `${address}, that is ${v4}` : address;
  if (host && host !== address) return `${host} (${inner})`;
  return v4 && v4 !== address ? `${address} (${v4})` : address;
}

/** Why a resolved address may not be connected to, or null when it may. */
export function refuseAddress(address: string, host: string, policy: AddressPolicy): string | null {
  const d = describeIp(address);
  if (!d) return `${host} resolved to "${address}", which is not an IP address`;
  return refusal(d.cls, nameOf(address, host), policy);
}

export type WebhookUrlCheck = { ok: true; url: URL } | { ok: false; reason: string };

/** Validates a webhook URL as typed after `webhook:`. No network: names are checked again at every connection. */
export function checkWebhookUrl(raw: string, policy: AddressPolicy): WebhookUrlCheck {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // URLs cannot carry an IPv6 zone id (fe80::1%eth0); say so rather than just "not a URL".
    if (/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*\[[^\]]*%/i.test(raw)) {
      return { ok: false, reason: `"${raw}" names an IPv6 zone (%…), which a webhook URL cannot carry; write webhook:https://example.com/hooks/sitrep` };
    }
    return { ok: false, reason: `"${raw}" is not a URL; write webhook:https://example.com/hooks/sitrep` };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return { ok: false, reason: `webhook URLs must be http or https, not ${url.protocol.replace(/:$/, '')}; write webhook:https://…` };
  }
  if (!url.hostname) return { ok: false, reason: `"${raw}" has no host; write webhook:https://example.com/hooks/sitrep` };
  if (url.hash) return { ok: false, reason: 'a webhook URL may not have a #fragment' };
  const why = checkHost(url.hostname, policy);
  if (why) return { ok: false, reason: why };
  return { ok: true, url };
}

/** Why a URL's host (as written) is refused, or null. Names are judged again once resolved. */
export function checkHost(hostname: string, policy: AddressPolicy): string | null {
  const h = canonicalHost(hostname);
  return refusal(classifyHost(h), describeIp(h) ? nameOf(h) : h, policy);
}
