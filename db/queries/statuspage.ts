import type { DbOrTx } from '../client.js';
import { prepared } from './prepared.js';

// The status page's change check: a cheap digest of everything the public state is built from.
// Most writes (deliveries recorded by the outbox worker, internal updates, notes, drafts) change
// none of it; comparing digests lets a change notification skip the full rebuild in the middle of
// a refresh storm. It runs on every change notification, so it is prepared once per connection.
const FINGERPRINT = `select
  (select count(*) || ':' || coalesce(max(id), 0) || ':' || coalesce(sum(display_at % 1000003), 0)
     from customer_updates where state = 'published')
  || '|' || (select coalesce(group_concat(id || ',' || name || ',' || coalesce(group_name, '') || ',' || coalesce(description, '') || ',' || public_status || ',' || position, ';'), '') from components)
  || '|' || (select count(*) || ':' || coalesce(max(id), 0) from component_status_history where is_public = 1)
  || '|' || (select count(*) || ':' || coalesce(max(id), 0) || ':' || coalesce(sum(length(title) * id), 0) || ':'
     || coalesce(sum(id * (case public_status when 'investigating' then 1 when 'identified' then 2 when 'monitoring' then 3 else 5 end)), 0)
     from incidents where published_at is not null)
  || '|' || (select count(*) || ':' || coalesce(max(published_at), 0) || ':' || coalesce(sum(length(public_body)), 0) from postmortems where published_at is not null)
  as f`;

export function publicFingerprint(db: DbOrTx): string {
  const row: unknown = prepared(db, FINGERPRINT).get();
  return typeof row === 'object' && row !== null && 'f' in row && typeof row.f === 'string' ? row.f : '';
}
