// A user reference as stored everywhere: `slack:U123`, `teams:29:abc`, `cli:alice`.
export const PLATFORMS = ['slack', 'teams', 'cli'] as const;
export type Platform = (typeof PLATFORMS)[number];

export type Actor = { platform: 'slack'; id: string; teamId?: string } | { platform: 'teams'; id: string; name?: string } | { platform: 'cli'; id: string };

export type UserRef = `${Platform}:${string}`;

export function toUserRef(actor: Actor): UserRef {
  return `${actor.platform}:${actor.id}`;
}

export function isUserRef(value: string): value is UserRef {
  const i = value.indexOf(':');
  if (i <= 0 || i === value.length - 1) return false;
  return (PLATFORMS as readonly string[]).includes(value.slice(0, i));
}

export function parseUserRef(value: string): Actor | null {
  if (!isUserRef(value)) return null;
  const i = value.indexOf(':');
  const platform = value.slice(0, i) as Platform;
  const id = value.slice(i + 1);
  switch (platform) {
    case 'slack':
      return { platform, id };
    case 'teams':
      return { platform, id };
    case 'cli':
      return { platform, id };
  }
}

/** How a user is shown in neutral text: the ref without the cli: prefix, since that is what people type. */
export function displayUser(ref: string | null | undefined): string {
  if (!ref) return '—';
  if (ref.startsWith('cli:')) return '@' + ref.slice(4);
  return ref;
}
