import { describe, expect, it } from 'vitest';
import { SLACK_THREAD_KINDS, slackCustomerMessage, slackThreadMessage } from '../../adapters/slack/messages.js';
import { TEAMS_THREAD_KINDS, teamsThreadMessage } from '../../adapters/teams/messages.js';
import { webhookMessage } from '../../adapters/webhook/messages.js';

// Rows an older version stored must still parse: the outbox may hold them across an upgrade.

describe('outbox message unions', () => {
  it('Slack: payloads of older versions get their defaults', async () => {
    expect(slackThreadMessage.parse({ kind: 'root_post', payload: {} })).toEqual({ kind: 'root_post', payload: { dedicated: false } });
    expect(slackThreadMessage.parse({ kind: 'create_channel', payload: { name: 'inc-1' } })).toEqual({
      kind: 'create_channel',
      payload: { name: 'inc-1', users: [], private: false }, // a row from before private incidents made a public channel
    });
    const reply = slackThreadMessage.parse({
      kind: 'thread_reply',
      payload: { text: 't', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 't' } }] },
    });
    expect(reply.kind === 'thread_reply' && reply.payload.broadcast).toBe(false);
    expect(slackThreadMessage.safeParse({ kind: 'thread_reply', payload: { text: 't', blocks: [{ text: 'no type' }] } }).success).toBe(false);
    expect(SLACK_THREAD_KINDS).toEqual(['create_channel', 'root_post', 'root_update', 'thread_reply', 'link_post', 'approval_update', 'ephemeral']);
  });

  it('customer channels: an update without updateId still parses; another platform’s kind does not', async () => {
    const payload = { incident: 'INC-1', title: 'T', status: 'identified', body: 'b', at: 1, url: 'http://x/incidents/INC-1', components: [], zone: 'UTC' };
    expect(slackCustomerMessage.safeParse({ kind: 'slack.customer_update', payload }).success).toBe(true);
    expect(slackCustomerMessage.safeParse({ kind: 'teams.customer_update', payload }).success).toBe(false);
  });

  it('Teams: a card reply without summary, and a card that is not an Adaptive Card', async () => {
    const card = { type: 'AdaptiveCard', $schema: 'http://adaptivecards.io/schemas/adaptive-card.json', version: '1.4', body: [] };
    const m = teamsThreadMessage.parse({ kind: 'thread_reply', payload: { card } });
    expect(m.kind === 'thread_reply' && m.payload.summary).toBe('');
    expect(teamsThreadMessage.safeParse({ kind: 'thread_reply', payload: { card: { type: 'Other' } } }).success).toBe(false);
    expect(TEAMS_THREAD_KINDS).toEqual(['root_post', 'root_update', 'thread_reply', 'approval_update', 'reply']);
  });

  it('webhooks: a body or meta that is not an object reads as empty, a missing update id as null', async () => {
    expect(webhookMessage.parse({ kind: 'webhook.incident_update', payload: { body: 'x' } })).toEqual({
      kind: 'webhook.incident_update',
      payload: { body: {}, updateId: null },
    });
    const body = { meta: { unsubscribe: 'u' }, incident: { id: 'INC-1' } };
    expect(webhookMessage.parse({ kind: 'webhook.postmortem', payload: { body, updateId: 'D-2' } }).payload).toEqual({ body, updateId: 'D-2' });
  });
});
