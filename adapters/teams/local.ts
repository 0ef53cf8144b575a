import { BlockList, isIP } from 'node:net';

// Local mode (MICROSOFT_APP_ID unset): nothing proves an activity came from Teams, so POST
// /api/messages only listens to this machine, and only when the activity asks for its replies to
// go back to this machine. Without the first, anyone who reaches the port acts as any teams:29:…
// id; without the second, a local caller could still point `channel incidents` (and with it every
// internal root card and timeline) at a serviceUrl elsewhere.

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');
// IPv4-mapped loopback (::ffff:127.0.0.1), as a dual-stack socket reports an IPv4 peer.
loopback.addSubnet('::ffff:7f00:0', 104, 'ipv6');

/** Whether a socket's peer address is this machine's loopback. Never a header: only the socket says where a request came from. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const family = isIP(address);
  if (family === 4) return loopback.check(address, 'ipv4');
  if (family === 6) return loopback.check(address, 'ipv6');
  return false;
}

/** Whether a serviceUrl is http(s) to localhost, 127.0.0.0/8 or [::1] (in any spelling the URL parser normalises). */
export function isLoopbackServiceUrl(serviceUrl: string): boolean {
  let url: URL;
  try {
    url = new URL(serviceUrl);
  } catch {
    return false;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  const host = url.hostname.toLowerCase();
  if (host === 'localhost') return true;
  return isLoopbackAddress(host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host);
}
