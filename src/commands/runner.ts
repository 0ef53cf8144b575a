import { recordProcessedEvent } from '../../db/queries/inbox.js';
import type { Store, WriteTx } from '../../db/store.js';
import type { CommandContext, Outlet, Policy, Reply, Scope } from './context.js';
import type { Command } from './grammar.js';
import { mapFailure, parseText, runParsedText, type Execute, type Failure, type Logger, type Parsed, type Result } from './run.js';

// The one way every surface (Slack, Teams, the console, the CLI, Sitrep's own background work)
// runs a command: the text is parsed once (a surface that answers a typo before running keeps the
// parse and hands it back), the verb runs with the process's outlets and policy, a platform's
// redelivery is applied once, change listeners hear of every write, and failures are mapped to
// one line, an unexpected one with a reference id that is also in the log.

/** What a surface runs: a command line, a line it already parsed, or a command built from a form. */
export type RunInput = string | { parsed: Parsed } | { command: Command };

/** What an internal verb (one no one types: a 📌 pin) answers. */
export type Outcome = { ok: true; reply: Reply } | { ok: false; error: Failure };

/** A platform's id for one request, so a redelivery or a double click is applied once. */
export interface DedupeKey {
  platform: 'slack' | 'teams';
  id: string;
}

export interface Runner {
  /** The policy every command of this process reads. */
  readonly policy: Policy;
  /**
   * The context a verb (or an outlet's follow-up, e.g. a dead letter's note) runs in; `within` an
   * open transaction, the verb's own transaction is a savepoint of it.
   */
  context(actor: string, scope: Scope, within?: WriteTx): CommandContext;
  /** Parses a command line as typed on `platform`; the result may be handed to `run`. */
  parse(text: string, platform: Scope['platform']): Parsed;
  /** Runs one command as `actor`; notifies change listeners after a write. Never rejects. */
  run(input: RunInput, actor: string, scope: Scope, fields?: Record<string, unknown>, within?: WriteTx): Promise<Result>;
  /** Runs an internal verb (a function of the context) like any other command. Never rejects. */
  invoke(verb: (ctx: CommandContext) => Promise<Reply>, actor: string, scope: Scope, fields?: Record<string, unknown>, within?: WriteTx): Promise<Outcome>;
  /**
   * Runs `fn` in one transaction with the row that records `key` (none when `key` is null): a
   * request seen before is 'duplicate' and runs nothing. A refused result rolls its key back
   * (so a corrected resubmission works) unless `keepRefused`, when the refusal (and its answer)
   * is kept and a redelivery would only be refused and answered again. `within` an open
   * transaction (Slack's group commit), it is a savepoint of that one.
   */
  once<R extends { ok: boolean }>(
    key: DedupeKey | null,
    fn: (tx: WriteTx) => Promise<R>,
    opts?: { keepRefused?: boolean; within?: WriteTx | undefined },
  ): Promise<R | 'duplicate'>;
  /** A failure outside any command (a transaction that could not commit), mapped like a command's. */
  failure(thrown: unknown, fields?: Record<string, unknown>): Extract<Result, { ok: false }>;
  /** Tells change listeners that something was written outside `run` (e.g. the outbox worker). */
  notify(): void;
}

export interface RunnerDeps {
  store: Store;
  now: () => number;
  log: Logger;
  policy: Policy;
  outlets: readonly Outlet[];
  /** Runs the verbs this process may run (all of them, or the CLI's one). */
  execute: Execute;
  /** Called after every command that may have written, once it committed. */
  onChange?: () => void;
  /** Parses a command line (the CLI's answers for its one line with what it parsed before). */
  parse?: (text: string, platform: Scope['platform']) => Parsed;
  /** Told how long each command took, by surface (the sitrep_command_duration_seconds histogram). */
  onCommand?: (surface: Scope['platform'], seconds: number) => void;
}

class Rollback<R> extends Error {
  constructor(readonly result: R) {
    super('rollback');
  }
}

export function createRunner(deps: RunnerDeps): Runner {
  const { store, now, log, policy, outlets, execute } = deps;
  const notify = deps.onChange ?? (() => undefined);
  const parse = deps.parse ?? ((text: string, platform: Scope['platform']) => parseText({ now, policy, scope: { platform } }, text));
  const context = (actor: string, scope: Scope, within?: WriteTx): CommandContext => ({
    store: within ? store.nested(within) : store,
    now,
    actor,
    scope,
    policy,
    outlets,
  });
  const parsedOf = (input: RunInput, platform: Scope['platform']): Parsed =>
    typeof input === 'string' ? parse(input, platform) : 'parsed' in input ? input.parsed : { ok: true, command: input.command };
  return {
    policy,
    context,
    parse,
    async run(input, actor, scope, fields = {}, within) {
      const started = performance.now();
      const result = await runParsedText(execute, context(actor, scope, within), parsedOf(input, scope.platform), log, { platform: scope.platform, ...fields });
      deps.onCommand?.(scope.platform, (performance.now() - started) / 1000);
      if (result.ok) notify();
      return result;
    },
    async invoke(verb, actor, scope, fields = {}, within) {
      let outcome: Outcome;
      try {
        outcome = { ok: true, reply: await verb(context(actor, scope, within)) };
      } catch (e) {
        return { ok: false, error: mapFailure(e, log, { platform: scope.platform, ...fields }) };
      }
      notify();
      return outcome;
    },
    async once<R extends { ok: boolean }>(
      key: DedupeKey | null,
      fn: (tx: WriteTx) => Promise<R>,
      opts: { keepRefused?: boolean; within?: WriteTx | undefined } = {},
    ) {
      try {
        return await (opts.within ? store.nested(opts.within) : store).transaction(async (tx) => {
          if (key && !(await recordProcessedEvent(tx, key.platform, key.id, now()))) return 'duplicate' as const;
          const result = await fn(tx);
          if (!result.ok && !opts.keepRefused) throw new Rollback(result);
          return result;
        });
      } catch (e) {
        if (e instanceof Rollback) return e.result as R;
        throw e;
      }
    },
    failure(thrown, fields = {}) {
      return { ok: false, error: mapFailure(thrown, log, fields) };
    },
    notify,
  };
}

/**
 * A runner handed out before it exists: capabilities get the runner when they are made, and the
 * runner gets their outlets, so the composition root makes the capabilities with this, then the
 * runner, then binds it (once, before anything runs).
 */
export function forwardRunner(): { runner: Runner; bind(r: Runner): Runner } {
  let target: Runner | null = null;
  const get = () => {
    if (!target) throw new Error('the command runner was used before the composition root made it');
    return target;
  };
  const runner: Runner = {
    get policy() {
      return get().policy;
    },
    context: (actor, scope, within) => get().context(actor, scope, within),
    parse: (text, platform) => get().parse(text, platform),
    run: (input, actor, scope, fields, within) => get().run(input, actor, scope, fields, within),
    invoke: (verb, actor, scope, fields, within) => get().invoke(verb, actor, scope, fields, within),
    once: (key, fn, opts) => get().once(key, fn, opts),
    failure: (thrown, fields) => get().failure(thrown, fields),
    notify: () => get().notify(),
  };
  return {
    runner,
    bind(r) {
      if (target) throw new Error('the command runner is bound once');
      target = r;
      return r;
    },
  };
}
