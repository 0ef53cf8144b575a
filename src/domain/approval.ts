import type { ApprovalPolicy } from './enums.js';
import { SitrepError } from './errors.js';

export interface ApprovalCheck {
  policy: ApprovalPolicy;
  actor: string;
  author: string;
  approvers: readonly string[];
  draftId: string;
}

/**
 * Who may approve a draft: the approvers list alone, which only admins change. Roles on an
 * incident (lead included) grant nothing here: anyone may `assign … lead @themselves`, so a role
 * that carried approval power would let any responder speak to customers. Under `required` the
 * author never approves their own text.
 */
export function checkApproval(c: ApprovalCheck): void {
  if (!c.approvers.includes(c.actor)) {
    throw new SitrepError(
      'FORBIDDEN',
      c.approvers.length === 0
        ? `you may not approve ${c.draftId}: nobody is an approver yet; an admin adds one with \`approver add @user\``
        : `you may not approve ${c.draftId}: only approvers may (an admin adds one with \`approver add @user\`)`,
    );
  }
  if (c.policy === 'required' && c.actor === c.author) {
    throw new SitrepError('FORBIDDEN', `you wrote ${c.draftId}; another approver must approve it (two-person rule, SITREP_APPROVAL=required)`);
  }
}

/**
 * Who may reject a draft: approvers, and its author (withdrawing their own wording). Like approval,
 * an incident role grants nothing.
 */
export function checkRejection(c: Omit<ApprovalCheck, 'policy'>): void {
  if (!c.approvers.includes(c.actor) && c.actor !== c.author) {
    throw new SitrepError('FORBIDDEN', `you may not reject ${c.draftId}: only approvers and its author may`);
  }
}

/**
 * What a new draft's reply says about who can approve it, so a responder is never left waiting on
 * nobody: with no approvers listed, it names the command that adds one.
 */
export function awaitingApprovalNote(c: { policy: ApprovalPolicy; approvers: readonly string[]; author: string; draftId: string }): string {
  if (c.approvers.length === 0) {
    return `nobody may approve it yet: no approvers are listed; an admin adds one with \`approver add @user\`, then they \`approve ${c.draftId}\``;
  }
  const others = c.policy === 'required' ? c.approvers.filter((a) => a !== c.author) : c.approvers;
  if (others.length === 0) {
    return `you are the only approver and may not approve your own text (SITREP_APPROVAL=required); an admin adds another with \`approver add @user\``;
  }
  return c.policy === 'required'
    ? `an approver other than you must \`approve ${c.draftId}\` before it goes out`
    : `an approver must \`approve ${c.draftId}\` before it goes out`;
}

/**
 * Refuses a decision on a D-n that is no longer waiting: approved text is immutable and a rejected
 * one is done. `redo` says what to write instead (a new `draft`, a new `maintenance update`).
 */
export function checkPending(d: { id: number; state: string }, redo: string): void {
  const did = `D-${d.id}`;
  if (d.state === 'published' || d.state === 'approved') {
    throw new SitrepError('CONFLICT', `${did} is already ${d.state}; approved text is immutable, so ${redo} instead`);
  }
  if (d.state === 'rejected') throw new SitrepError('CONFLICT', `${did} was rejected; ${redo} instead`);
}
