import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { USAGE, VERBS } from '../../src/commands/help.js';
import { TIMELINE_COMMAND } from '../../adapters/teams/inbound.js';

// adapters/teams/manifest/ is what an admin zips and uploads to Teams. Its command hints must be
// words the grammar understands, described the way `help` describes them.

const DIR = new URL('../../adapters/teams/manifest/', import.meta.url);
const manifest = JSON.parse(readFileSync(new URL('manifest.json', DIR), 'utf8')) as Record<string, any>;

function pngSize(file: string): [number, number] {
  const b = readFileSync(new URL(file, DIR));
  expect(b.subarray(1, 4).toString('latin1')).toBe('PNG');
  return [b.readUInt32BE(16), b.readUInt32BE(20)];
}

/** `help`'s summary, or as many of its leading sentences as fit Teams' 128-character hint. */
function hint(summary: string): string {
  if (summary.length <= 128) return summary;
  const sentences = summary.split(/(?<=\.) /);
  let out = sentences[0]!.replace(/\.$/, '');
  for (const s of sentences.slice(1)) {
    const next = `${out}. ${s}`.replace(/\.$/, '');
    if (next.length > 128) break;
    out = next;
  }
  return out;
}

describe('Teams app manifest', () => {
  it('is a v1.17+ manifest with a bot in team, personal and groupChat scopes, app id as a placeholder', async () => {
    expect(manifest.$schema).toMatch(/teams\/v1\.(1[7-9]|[2-9]\d)\/MicrosoftTeams\.schema\.json$/);
    expect(Number(manifest.manifestVersion.split('.')[1])).toBeGreaterThanOrEqual(17);
    expect(manifest.id).toBe('{{MICROSOFT_APP_ID}}');
    expect(manifest.bots).toHaveLength(1);
    const bot = manifest.bots[0];
    expect(bot.botId).toBe('{{MICROSOFT_APP_ID}}');
    expect([...bot.scopes].sort()).toEqual(['groupChat', 'personal', 'team']);
    expect(manifest.name.short.length).toBeLessThanOrEqual(30);
    expect(manifest.description.short.length).toBeLessThanOrEqual(80);
    expect(manifest.description.full.length).toBeLessThanOrEqual(4000);
  });

  it('ships the icons Teams requires (192×192 colour, 32×32 outline)', async () => {
    expect(pngSize(manifest.icons.color)).toEqual([192, 192]);
    expect(pngSize(manifest.icons.outline)).toEqual([32, 32]);
  });

  it('hints only real commands, described as `help` describes them, within Teams limits', async () => {
    const lists = manifest.bots[0].commandLists as Array<{ scopes: string[]; commands: Array<{ title: string; description: string }> }>;
    expect(lists.length).toBeGreaterThanOrEqual(1);
    expect(lists.length).toBeLessThanOrEqual(3);
    const scopes = lists.flatMap((l) => l.scopes).sort();
    expect(scopes).toEqual(['groupChat', 'personal', 'team']);
    for (const l of lists) {
      expect(l.commands.length).toBeLessThanOrEqual(10);
      for (const c of l.commands) {
        expect(VERBS).toContain(c.title);
        expect(c.title.length).toBeLessThanOrEqual(32);
        expect(c.description.length).toBeLessThanOrEqual(128);
        expect(c.description).toBe(hint(USAGE[c.title as keyof typeof USAGE].summary));
      }
      // The main commands are hinted in every scope.
      for (const main of ['declare', 'update', 'draft', 'approve', 'resolve', 'help']) expect(l.commands.map((c) => c.title)).toContain(main);
    }
    // Binding the incidents channel only makes sense in a team.
    expect(lists.find((l) => l.scopes.includes('team'))!.commands.map((c) => c.title)).toContain('channel');
  });

  it('offers "Add to timeline" as a message action the bot answers (fetchTask, then submitAction)', async () => {
    expect(manifest.composeExtensions).toHaveLength(1);
    const ext = manifest.composeExtensions[0];
    expect(ext.botId).toBe('{{MICROSOFT_APP_ID}}');
    expect(ext.commands).toEqual([
      {
        id: TIMELINE_COMMAND,
        type: 'action',
        context: ['message'],
        title: 'Add to timeline',
        description: expect.any(String),
        fetchTask: true,
      },
    ]);
    expect(ext.commands[0].description.length).toBeLessThanOrEqual(128);
  });
});
