import type { ApprovalPolicy } from './enums.js';
import { SitrepError } from './errors.js';

export interface ApprovalCheck {
  policy: ApprovalPolicy;
  actor: string;
  author: string;
  approvers: readonly string[];
  lead: string | null;
  draftId: string;
}

/** Who may approve a draft: the approvers list plus the incident's lead; never the author under `required`. */
export function checkApproval(c: ApprovalCheck): void {
  const allowed = c.approvers.includes(c.actor) || (c.lead !== null && c.lead === c.actor);
  if (!allowed) {
    throw new SitrepError(
      'FORBIDDEN',
      `you may not approve ${c.draftId}: only approvers (\`approver add @you\`) and the incident lead may`,
    );
  }
  if (c.policy === 'required' && c.actor === c.author) {
    throw new SitrepError(
      'FORBIDDEN',
      `you wrote ${c.draftId}; another approver must approve it (two-person rule, SITREP_APPROVAL=required)`,
    );
  }
}
