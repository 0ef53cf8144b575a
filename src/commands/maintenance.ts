import type { WriteTx } from '../../db/store.js';
import {
  getMaintenance,
  insertMaintenance,
  insertMaintenanceEvent,
  listMaintenances,
  maintenanceComponentIds,
  moveMaintenance,
  setMaintenancePublic,
  type MaintenanceRow,
} from '../../db/queries/maintenances.js';
import {
  insertMaintenanceText,
  insertPublishedMaintenanceText,
  markDraftRejected,
  markMaintenanceTextPublished,
  type MaintenanceTextRow,
} from '../../db/queries/drafts.js';
import { componentsBySlug, recomputeComponents } from '../../db/queries/incidents.js';
import { listApprovers } from '../../db/queries/settings.js';
import { displayUser } from '../domain/actor.js';
import { awaitingApprovalNote, checkApproval, checkPending, checkRejection } from '../domain/approval.js';
import type { MaintenanceEventKind, MaintenanceStatus } from '../domain/enums.js';
import { SitrepError } from '../domain/errors.js';
import {
  checkMaintenanceTransition,
  checkSchedule,
  dueTransitions,
  maintenanceRef,
  maintenanceStatusLabel,
  noticeFor,
  updateAction,
  type MaintenanceAction,
} from '../domain/maintenance.js';
import { renderMaintenanceList, toMaintenanceListJson } from '../render/maintenance.js';
import { formatPosted } from '../render/time.js';
import type { CommandContext, MaintenancePublishedRecord, Reply } from './context.js';
import type { Command } from './grammar.js';

// Scheduled maintenance, M-n: `maintenance schedule|list|update|start|complete|cancel`, the
// automatic start and completion (runDueMaintenance, called by the server's scheduler), and the
// approval of a maintenance's texts (draft.ts hands a maintenance's D-n here). Every word typed for
// customers is a draft until an approver approves it, exactly like an incident's; the notices of a
// start, completion or cancellation are fixed wording (noticeFor) and go out as they are, but only
// once the maintenance has been announced: before that its title has not been approved either.

type MaintenanceCommand = Extract<Command, { verb: 'maintenance' }>;

/** Finished maintenance stays in `maintenance list` for a week. */
const LIST_FINISHED_MS = 7 * 24 * 3_600_000;

const SYSTEM = 'system:sitrep';

/** Appends an event to the maintenance's timeline and lets every outlet react to it, in the caller's transaction. */
export async function recordMaintenanceEvent(
  tx: WriteTx,
  ctx: CommandContext,
  e: { maintenanceId: number; kind: MaintenanceEventKind; text: string; occurredAt?: number; actor?: string; payload?: Record<string, unknown> },
): Promise<void> {
  const now = ctx.now();
  const row = await insertMaintenanceEvent(tx, {
    maintenanceId: e.maintenanceId,
    kind: e.kind,
    actor: e.actor ?? ctx.actor,
    text: e.text,
    occurredAt: e.occurredAt ?? now,
    recordedAt: now,
    payload: e.payload ?? {},
  });
  for (const o of ctx.outlets) await o.onMaintenanceEvent?.(tx, { ...row, payload: row.payload }, ctx);
}

/** Re-rolls the maintenance's components (internal, and public once customers have heard of it). */
async function rollUpComponents(tx: WriteTx, m: Pick<MaintenanceRow, 'id'>, at: number, which: ReadonlyArray<'internal' | 'public'>): Promise<void> {
  const ids = await maintenanceComponentIds(tx, m.id);
  for (const w of which) await recomputeComponents(tx, ids, w, at, null);
}

/**
 * Makes a maintenance's text public: marked published with the status it announces, the
 * maintenance's public status moved, its components re-rolled for the page, and every outlet told.
 */
async function makePublic(
  tx: WriteTx,
  ctx: CommandContext,
  m: MaintenanceRow,
  text: { id: number; body: string; status: MaintenanceStatus; displayAt: number },
  approver: string | null,
): Promise<MaintenancePublishedRecord> {
  const now = ctx.now();
  const first = m.publishedAt === null;
  await setMaintenancePublic(tx, m.id, text.status, now);
  await rollUpComponents(tx, m, text.displayAt, ['public']);
  const record: MaintenancePublishedRecord = {
    updateId: text.id,
    maintenanceId: m.id,
    status: text.status,
    body: text.body,
    displayAt: text.displayAt,
    approvedAt: now,
    first,
  };
  await recordMaintenanceEvent(tx, ctx, {
    maintenanceId: m.id,
    kind: 'published',
    occurredAt: text.displayAt,
    text: `Published D-${text.id} (${maintenanceStatusLabel(text.status)}): ${text.body}`,
    payload: { draftId: text.id, status: text.status, approver },
  });
  for (const o of ctx.outlets) await o.onMaintenancePublished?.(tx, record, ctx);
  return record;
}

/** A fixed notice (start, completion, cancellation), published as written once the maintenance is public. */
async function publishNotice(tx: WriteTx, ctx: CommandContext, id: number, action: 'start' | 'complete' | 'cancel', at: number): Promise<number | null> {
  const m = await getMaintenance(tx, id);
  if (m.publishedAt === null) return null;
  const status: MaintenanceStatus = action === 'start' ? 'in_progress' : action === 'complete' ? 'completed' : 'cancelled';
  const row = await insertPublishedMaintenanceText(tx, {
    maintenanceId: id,
    maintenanceStatus: status,
    movesStatus: false,
    body: noticeFor(action),
    author: SYSTEM,
    createdAt: ctx.now(),
    displayAt: at,
    publishedAt: ctx.now(),
  });
  await makePublic(tx, ctx, m, { id: row.id, body: row.body, status, displayAt: at }, null);
  return row.id;
}

/**
 * Applies one status change (by hand or when due), conditionally on the status it leaves: false
 * when someone else moved it first. Internally it is at once; customers hear through the notice.
 */
async function move(
  tx: WriteTx,
  ctx: CommandContext,
  m: MaintenanceRow,
  action: MaintenanceAction,
  to: MaintenanceStatus,
  at: number,
  how: { actor: string; auto: boolean; notice: boolean },
): Promise<boolean> {
  if (!(await moveMaintenance(tx, m.id, m.status, to, at, ctx.now()))) return false;
  const ref = maintenanceRef(m.id);
  const when = formatPosted(at, ctx.policy.timezone);
  const what = how.auto
    ? `${ref} ${to === 'in_progress' ? 'started' : 'completed'} at its scheduled time (${when})`
    : `${ref} is now ${maintenanceStatusLabel(to)} (${displayUser(how.actor)}, ${when})`;
  await recordMaintenanceEvent(tx, ctx, {
    maintenanceId: m.id,
    kind: 'status_changed',
    actor: how.actor,
    occurredAt: at,
    text: what,
    payload: { from: m.status, to, action, auto: how.auto },
  });
  await rollUpComponents(tx, m, at, ['internal']);
  if (how.notice && (action === 'start' || action === 'complete' || action === 'cancel')) {
    const published = await publishNotice(tx, ctx, m.id, action, at);
    if (published === null) {
      await recordMaintenanceEvent(tx, ctx, {
        maintenanceId: m.id,
        kind: 'note',
        actor: SYSTEM,
        occurredAt: at,
        text: `${ref} is not announced yet, so customers were not told; they hear of it once its announcement is approved`,
      });
    }
  }
  return true;
}

async function schedule(ctx: CommandContext, cmd: Extract<MaintenanceCommand, { action: 'schedule' }>): Promise<Reply> {
  const now = ctx.now();
  const { startsAt, endsAt } = checkSchedule({ startsAt: cmd.startsAt, endsAt: cmd.endsAt, now });
  return ctx.store.transaction(async (tx) => {
    const bySlug = await componentsBySlug(tx, cmd.components);
    const m = await insertMaintenance(
      tx,
      { title: cmd.title, startsAt, endsAt, createdBy: ctx.actor, scheduledAt: cmd.at ?? now, recordedAt: now },
      cmd.components.map((s) => bySlug.get(s)!.id),
    );
    const ref = maintenanceRef(m.id);
    const zone = ctx.policy.timezone;
    await recordMaintenanceEvent(tx, ctx, {
      maintenanceId: m.id,
      kind: 'scheduled',
      occurredAt: cmd.at ?? now,
      text: `${displayUser(ctx.actor)} scheduled ${ref} "${cmd.title}" for ${formatPosted(startsAt, zone)} to ${formatPosted(endsAt, zone)}${cmd.components.length ? ` (${cmd.components.join(', ')})` : ''}`,
      payload: { title: cmd.title, startsAt, endsAt, components: cmd.components },
    });
    const p = await propose(tx, ctx, m, { body: cmd.text, status: 'scheduled', movesStatus: false, displayAt: cmd.at ?? now });
    const window = `${formatPosted(startsAt, zone)} to ${formatPosted(endsAt, zone)}`;
    return {
      text: `${ref} scheduled for ${window}; ${p.text}`,
      data: {
        id: ref,
        status: 'scheduled',
        starts_at: startsAt,
        ends_at: endsAt,
        components: cmd.components,
        draft: `D-${p.row.id}`,
        state: p.published ? 'published' : 'draft',
      },
    };
  });
}

/** A maintenance's customer-facing words become a draft, or are published at once under SITREP_APPROVAL=off. */
async function propose(
  tx: WriteTx,
  ctx: CommandContext,
  m: MaintenanceRow,
  t: { body: string; status: MaintenanceStatus; movesStatus: boolean; displayAt: number },
): Promise<{ row: MaintenanceTextRow; published: boolean; text: string }> {
  const row = await insertMaintenanceText(tx, {
    maintenanceId: m.id,
    maintenanceStatus: t.status,
    movesStatus: t.movesStatus,
    body: t.body,
    author: ctx.actor,
    createdAt: ctx.now(),
    displayAt: t.displayAt,
  });
  const did = `D-${row.id}`;
  if (ctx.policy.approval === 'off') {
    await publishMaintenanceText(tx, ctx, row, { approver: null });
    return { row, published: true, text: `${did} published (SITREP_APPROVAL=off).` };
  }
  await recordMaintenanceEvent(tx, ctx, {
    maintenanceId: m.id,
    kind: 'draft_created',
    occurredAt: t.displayAt,
    text: `Drafted ${did} (${maintenanceStatusLabel(t.status)}): ${t.body}`,
    payload: { draftId: row.id, status: t.status, author: ctx.actor, body: t.body },
  });
  const note = awaitingApprovalNote({ policy: ctx.policy.approval, approvers: await listApprovers(tx), author: ctx.actor, draftId: did });
  return { row, published: false, text: `${did} drafted; ${note}.` };
}

/**
 * Publishes a maintenance's draft (approved, or under SITREP_APPROVAL=off). A draft that moves the
 * status moves it now, and is refused when the maintenance has moved on since. An announcement
 * approved after the work already began is followed by the notices customers missed, each dated
 * when it happened.
 */
export async function publishMaintenanceText(
  tx: WriteTx,
  ctx: CommandContext,
  row: MaintenanceTextRow,
  opts: { approver: string | null; body?: string; displayAt?: number },
): Promise<MaintenancePublishedRecord> {
  let m = await getMaintenance(tx, row.maintenanceId);
  const ref = maintenanceRef(m.id);
  const body = opts.body ?? row.body;
  const displayAt = opts.displayAt ?? row.displayAt;
  let status: MaintenanceStatus = row.maintenanceStatus;
  if (row.movesStatus) {
    const action = updateAction(m.status, row.maintenanceStatus);
    if (action !== 'update') {
      checkMaintenanceTransition(ref, m.status, action);
      await move(tx, ctx, m, action, row.maintenanceStatus, displayAt, { actor: ctx.actor, auto: false, notice: false });
      m = await getMaintenance(tx, m.id);
    }
  } else if (m.publishedAt !== null || row.maintenanceStatus !== 'scheduled') {
    // A plain update says where things stand when it goes out.
    status = m.status;
  }
  await markMaintenanceTextPublished(tx, row.id, { body, status, approver: opts.approver, at: ctx.now(), displayAt });
  const record = await makePublic(tx, ctx, m, { id: row.id, body, status, displayAt }, opts.approver);
  if (record.first && status === 'scheduled' && m.status !== 'scheduled') {
    if (m.status !== 'cancelled' && m.startedAt !== null) await publishNotice(tx, ctx, m.id, 'start', m.startedAt);
    if (m.status === 'completed') await publishNotice(tx, ctx, m.id, 'complete', m.completedAt ?? ctx.now());
    if (m.status === 'cancelled') await publishNotice(tx, ctx, m.id, 'cancel', m.cancelledAt ?? ctx.now());
  }
  return record;
}

async function list(ctx: CommandContext): Promise<Reply> {
  const rows = await ctx.store.read((db) => listMaintenances(db, { finishedSince: ctx.now() - LIST_FINISHED_MS }));
  const items = rows.map((m) => ({
    id: m.ref,
    title: m.title,
    status: m.status,
    startsAt: m.startsAt,
    endsAt: m.endsAt,
    components: m.components.map((c) => c.slug),
  }));
  return { text: renderMaintenanceList(items, ctx.policy.timezone), data: toMaintenanceListJson(items, ctx.policy.timezone) };
}

async function updateText(ctx: CommandContext, cmd: Extract<MaintenanceCommand, { action: 'update' }>): Promise<Reply> {
  return ctx.store.transaction(async (tx) => {
    const m = await getMaintenance(tx, cmd.maintenance);
    const ref = maintenanceRef(m.id);
    const action = updateAction(m.status, cmd.status);
    const to = checkMaintenanceTransition(ref, m.status, action);
    const p = await propose(tx, ctx, m, { body: cmd.text, status: to, movesStatus: action !== 'update', displayAt: cmd.at ?? ctx.now() });
    return {
      text: `${p.text.replace(/^D-\d+/, (d) => `${d} for ${ref}`)}`,
      data: { id: `D-${p.row.id}`, maintenance: ref, state: p.published ? 'published' : 'draft', status: to, body: cmd.text },
    };
  });
}

async function transition(ctx: CommandContext, cmd: Extract<MaintenanceCommand, { action: 'start' | 'complete' | 'cancel' }>): Promise<Reply> {
  return ctx.store.transaction(async (tx) => {
    const m = await getMaintenance(tx, cmd.maintenance);
    const ref = maintenanceRef(m.id);
    const to = checkMaintenanceTransition(ref, m.status, cmd.action);
    // Once announced, the change tells customers (a fixed notice): that is an approver's to say.
    if (m.publishedAt !== null && ctx.policy.approval !== 'off' && !(await listApprovers(tx)).includes(ctx.actor)) {
      throw new SitrepError(
        'FORBIDDEN',
        `${ref} is announced, so this tells customers, which only approvers may do; draft it instead: \`maintenance update ${ref} status:${to} <text>\``,
      );
    }
    const at = cmd.at ?? ctx.now();
    if (!(await move(tx, ctx, m, cmd.action, to, at, { actor: ctx.actor, auto: false, notice: true }))) {
      throw new SitrepError('CONFLICT', `${ref} changed while this ran; look again with \`maintenance list\``);
    }
    const told = (await getMaintenance(tx, m.id)).publishedAt !== null;
    return {
      text: `${ref} is now ${maintenanceStatusLabel(to)}${told ? '; customers are told' : '; it is not announced yet, so customers are not told'}.`,
      data: { id: ref, status: to },
    };
  });
}

export async function maintenance(ctx: CommandContext, cmd: MaintenanceCommand): Promise<Reply> {
  switch (cmd.action) {
    case 'schedule':
      return schedule(ctx, cmd);
    case 'list':
      return list(ctx);
    case 'update':
      return updateText(ctx, cmd);
    case 'start':
    case 'complete':
    case 'cancel':
      return transition(ctx, cmd);
  }
}

// --- approval of a maintenance's D-n (approve/reject hand it here) --------------------------------

const checkTextPending = (t: MaintenanceTextRow) => checkPending(t, 'write a new `maintenance update`');

export async function approveMaintenanceText(tx: WriteTx, ctx: CommandContext, t: MaintenanceTextRow, cmd: { text?: string; at?: number }): Promise<Reply> {
  const did = `D-${t.id}`;
  checkTextPending(t);
  checkApproval({ policy: ctx.policy.approval, actor: ctx.actor, author: t.author, approvers: await listApprovers(tx), draftId: did });
  const ref = maintenanceRef(t.maintenanceId);
  await recordMaintenanceEvent(tx, ctx, {
    maintenanceId: t.maintenanceId,
    kind: 'draft_approved',
    text: cmd.text ? `${did} approved with rewording by ${displayUser(ctx.actor)} (was: ${t.body})` : `${did} approved by ${displayUser(ctx.actor)}`,
    payload: { draftId: t.id, original: t.body },
  });
  const pub = await publishMaintenanceText(tx, ctx, t, {
    approver: ctx.actor,
    ...(cmd.text ? { body: cmd.text } : {}),
    ...(cmd.at !== undefined ? { displayAt: cmd.at } : {}),
  });
  return { text: `${did} approved and published for ${ref}.`, data: { id: did, maintenance: ref, state: 'published', body: pub.body } };
}

export async function rejectMaintenanceText(tx: WriteTx, ctx: CommandContext, t: MaintenanceTextRow, cmd: { reason: string; at?: number }): Promise<Reply> {
  const did = `D-${t.id}`;
  checkTextPending(t);
  checkRejection({ actor: ctx.actor, author: t.author, approvers: await listApprovers(tx), draftId: did });
  const now = ctx.now();
  await markDraftRejected(tx, t.id, { reason: cmd.reason, by: ctx.actor, at: now });
  await recordMaintenanceEvent(tx, ctx, {
    maintenanceId: t.maintenanceId,
    kind: 'draft_rejected',
    occurredAt: cmd.at ?? now,
    text: `${did} by ${displayUser(t.author)} rejected: ${cmd.reason}`,
    payload: { draftId: t.id, author: t.author, reason: cmd.reason },
  });
  return { text: `${did} rejected; ${displayUser(t.author)} is told why.`, data: { id: did, state: 'rejected', author: t.author, reason: cmd.reason } };
}

// --- the scheduler's part ---------------------------------------------------------------------------

/**
 * Starts and completes what is due by now: each change conditional on the status it leaves, in
 * the transaction that writes its notice, so a restart, a late tick or a second server finds it
 * done and does nothing twice. Returns how many changes were made.
 */
export async function runDueMaintenance(ctx: CommandContext, ids: readonly number[]): Promise<number> {
  let changed = 0;
  for (const id of ids) {
    await ctx.store.transaction(async (tx) => {
      let m = await getMaintenance(tx, id);
      for (const due of dueTransitions(m, ctx.now())) {
        if (!(await move(tx, ctx, m, due.action, due.to, due.at, { actor: SYSTEM, auto: true, notice: true }))) return;
        changed++;
        m = await getMaintenance(tx, id);
      }
    });
  }
  return changed;
}
