import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { USED_SCOPES } from '../../adapters/slack/handlers.js';

// manifest.yml is what an admin pastes into Slack; if it drifts from the code, commands or events
// silently never arrive, or the app asks for scopes it does not use. This reads both.

const ROOT = new URL('../../', import.meta.url);
const manifest = parse(readFileSync(new URL('manifest.yml', ROOT), 'utf8')) as any;
const sources = readdirSync(new URL('adapters/slack/', ROOT))
  .filter((f) => f.endsWith('.ts'))
  .map((f) => readFileSync(new URL(`adapters/slack/${f}`, ROOT), 'utf8'))
  .join('\n');

/** Listeners the code registers with Bolt, and Web API methods it calls. */
// One Bolt listener takes every command and one every event (adapters/slack/handlers.ts): the
// command it answers is SLASH_COMMAND, the events those given to onEvent.
const registeredCommands = [...sources.matchAll(/SLASH_COMMAND = '([^']+)'/g)].map((m) => m[1]!);
const registeredEvents = [...sources.matchAll(/onEvent\('([^']+)'/g)].map((m) => m[1]!);
const registeredShortcuts = [...sources.matchAll(/bolt\.shortcut\(\{\s*type: '(\w+)',\s*callback_id: '([^']+)'/g)].map((m) => ({
  type: m[1]!,
  callbackId: m[2]!,
}));
const calledMethods = [
  ...new Set([...sources.matchAll(/\b(?:client|web)\.(chat|views|conversations|reactions|users|auth)\.(\w+)\(/g)].map((m) => `${m[1]}.${m[2]}`)),
];

describe('manifest.yml', () => {
  it('is a complete app manifest: display info, bot user, interactivity and events on /slack/events', async () => {
    expect(manifest._metadata.major_version).toBe(1);
    expect(manifest.display_information.name).toBe('Sitrep');
    expect(manifest.display_information.description.length).toBeGreaterThan(10);
    expect(manifest.display_information.long_description.length).toBeGreaterThanOrEqual(175);
    expect(manifest.features.bot_user.display_name).toBe('Sitrep');
    expect(manifest.settings.interactivity.is_enabled).toBe(true);
    expect(manifest.settings.interactivity.request_url).toMatch(/^https:\/\/[^/]+\/slack\/events$/);
    expect(manifest.settings.event_subscriptions.request_url).toMatch(/^https:\/\/[^/]+\/slack\/events$/);
  });

  it('declares exactly the slash command the app registers, escaped', async () => {
    expect(registeredCommands).toEqual(['/incident']);
    const cmds = manifest.features.slash_commands;
    expect(cmds.map((c: any) => c.command)).toEqual(registeredCommands);
    expect(cmds[0]).toMatchObject({ should_escape: true, url: expect.stringMatching(/\/slack\/events$/) });
    expect(cmds[0].description).toBeTruthy();
    expect(cmds[0].usage_hint).toContain('declare');
  });

  it('subscribes to exactly the events the app listens to', async () => {
    expect([...manifest.settings.event_subscriptions.bot_events].sort()).toEqual([...registeredEvents].sort());
    expect(Object.keys(USED_SCOPES.events).sort()).toEqual([...registeredEvents].sort());
  });

  it('declares exactly the message shortcuts the app registers', async () => {
    // A shortcut in the manifest with no listener would leave Slack waiting for an ack; one the
    // code listens for but the manifest lacks would never show in the message menu.
    expect(registeredShortcuts).toEqual([{ type: 'message_action', callbackId: 'sitrep_add_to_timeline' }]);
    const shortcuts = manifest.features.shortcuts;
    expect(shortcuts.map((s: any) => ({ type: s.type === 'message' ? 'message_action' : s.type, callbackId: s.callback_id }))).toEqual(registeredShortcuts);
    expect(Object.keys(USED_SCOPES.shortcuts)).toEqual(registeredShortcuts.map((s) => s.callbackId));
    for (const s of shortcuts) {
      expect(s.name).toBe('Add to timeline');
      // Slack's limits for a shortcut's name and description.
      expect(s.name.length).toBeLessThanOrEqual(24);
      expect(s.description.length).toBeGreaterThan(0);
      expect(s.description.length).toBeLessThanOrEqual(80);
    }
  });

  it('asks for exactly the bot scopes the code uses', async () => {
    // Every method the code calls has its scopes listed, and nothing else is asked for.
    expect(calledMethods.sort()).toEqual(Object.keys(USED_SCOPES.methods).sort());
    const needed = new Set<string>([
      ...Object.values(USED_SCOPES.methods).flat(),
      ...Object.values(USED_SCOPES.events).flat(),
      ...Object.values(USED_SCOPES.commands).flat(),
      ...Object.values(USED_SCOPES.shortcuts).flat(),
    ]);
    expect([...manifest.oauth_config.scopes.bot].sort()).toEqual([...needed].sort());
    expect(manifest.oauth_config.scopes.user).toBeUndefined();
  });

  it('asks for what private incidents need: private channels (groups:write) and who joins or leaves them (groups:read)', async () => {
    expect(USED_SCOPES.methods['conversations.create']).toContain('groups:write');
    expect(USED_SCOPES.methods['conversations.invite']).toContain('groups:write');
    expect(manifest.oauth_config.scopes.bot).toEqual(expect.arrayContaining(['groups:write', 'groups:read']));
    expect(manifest.settings.event_subscriptions.bot_events).toEqual(expect.arrayContaining(['member_joined_channel', 'member_left_channel']));
  });
});
