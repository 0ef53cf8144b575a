import type { webApi } from '@slack/bolt';
import { callOnThread, httpThreadReady } from './http-thread.js';

// The Slack Web API client the outbox targets and the listeners call: an HTTP POST per method with
// the bot token as a Bearer header, over keep-alive connections that a thread of their own holds
// (./http-thread.ts: the requests are written and read there, off the event loop that answers
// acks; the answers are checked here). Write methods take a JSON body (one
// JSON.stringify of the blocks, nothing to URL-encode); read methods, which Slack does not accept
// JSON for, are form-encoded as the SDK's own client sends them (objects and arrays as JSON). It tries once and reports what happened; the outbox worker
// owns retries, Retry-After and deadlines. The SDK's WebClient does the same through axios, a
// request queue and a retry layer, at about 1.3 ms of CPU per call, which made a 200-channel
// fan-out wait on the client rather than on Slack's limit. Errors carry the SDK's codes and fields
// (code, data.error, retryAfter, statusCode, headers) so callers read them one way.

type Args = Record<string, unknown>;

/** The calls Sitrep makes. Argument types are the SDK's own (type-only imports, nothing loaded). */
export interface SlackWebApi {
  call(method: string, args: Args, signal?: AbortSignal): Promise<SlackAnswer>;
  chat: {
    /**
     * A message of its own, or one prepared once (preparePost) for many channels: then only the
     * channel and the thread are added to its JSON, so a fan-out serialises its blocks once.
     */
    postMessage(args: webApi.ChatPostMessageArguments | PreparedPostTo, signal?: AbortSignal): Promise<Posted>;
    update(args: webApi.ChatUpdateArguments, signal?: AbortSignal): Promise<Posted>;
    postEphemeral(args: webApi.ChatPostEphemeralArguments, signal?: AbortSignal): Promise<SlackAnswer>;
  };
  conversations: {
    create(args: webApi.ConversationsCreateArguments, signal?: AbortSignal): Promise<{ channelId?: string }>;
    invite(args: webApi.ConversationsInviteArguments, signal?: AbortSignal): Promise<SlackAnswer>;
    /** The answer as Slack sent it: the caller validates what it reads. */
    replies(args: webApi.ConversationsRepliesArguments, signal?: AbortSignal): Promise<SlackAnswer>;
  };
  views: {
    open(args: webApi.ViewsOpenArguments, signal?: AbortSignal): Promise<SlackAnswer>;
  };
}

/**
 * A chat.postMessage body without its channel and thread, serialised once. Whoever posts the same
 * message to many channels (a customer-channel fan-out) makes one and sends it to each.
 */
export interface PreparedPost {
  /** The JSON object of every argument but `channel` and `thread_ts`, without its opening brace. */
  readonly rest: string;
}

/** What a prepared post carries (chat.postMessage's arguments but the channel and the thread). */
export interface PostArgs {
  text: string;
  blocks?: readonly unknown[];
  unfurl_links?: boolean;
  unfurl_media?: boolean;
}

/** A prepared message, to one channel (in the thread of `thread_ts` when given). */
export interface PreparedPostTo {
  channel: string;
  thread_ts?: string | undefined;
  prepared: PreparedPost;
}

export function preparePost(args: PostArgs): PreparedPost {
  const json = JSON.stringify(args);
  return { rest: json === '{}' ? '}' : `,${json.slice(1)}` };
}

/** What a post or an edit answers that Sitrep keeps: the message's ts. */
export interface Posted {
  ts?: string;
}

/** A parsed answer: Slack's JSON object, `ok` checked. */
export type SlackAnswer = { ok: true } & Record<string, unknown>;

export type SlackErrorCode = 'slack_webapi_platform_error' | 'slack_webapi_rate_limited_error' | 'slack_webapi_http_error' | 'slack_webapi_request_error';

export class SlackApiError extends Error {
  constructor(
    readonly code: SlackErrorCode,
    message: string,
    readonly details: { data?: { error: string } & Record<string, unknown>; statusCode?: number; headers?: Record<string, string>; retryAfter?: number } = {},
  ) {
    super(message);
    this.name = 'SlackApiError';
  }
  get data() {
    return this.details.data;
  }
  get statusCode() {
    return this.details.statusCode;
  }
  get headers() {
    return this.details.headers;
  }
  /** Seconds, from Retry-After. */
  get retryAfter() {
    return this.details.retryAfter;
  }
}

export interface SlackWebApiOptions {
  token: string;
  /** Ends in a slash: https://slack.com/api/ */
  apiUrl: string;
  timeoutMs?: number;
  /** Connections to Slack at most (the pool grows to it only while requests wait: see ConnectionBudget). */
  maxSockets?: number;
  /** Connections a burst starts on; 16 unless set. */
  initialSockets?: number;
}

/**
 * How many requests the client lets through at once, and so how many connections it opens.
 * Opening a connection costs both ends more than a post on it does (a TCP handshake, and over TLS
 * a key exchange), so a burst rides on the connections it has, and the budget grows only when
 * they stall: while requests wait and none has been answered for twice STALL_MS (and two turns of
 * the event loop after each), it doubles, up to the most. Near Slack (answers in a millisecond) a
 * 200-channel fan-out goes out on a few connections instead of opening 200; far from it (answers
 * in 100 ms) the budget reaches hundreds before the first answers are back. Sixteen connections
 * with answers in 20 ms carry 800 posts a second, past what Slack accepts from one workspace.
 * After a quiet spell with nothing in flight it starts small again. A waiting request whose
 * signal fires leaves the queue without being sent.
 */
class ConnectionBudget {
  static readonly STALL_MS = 10;
  static readonly QUIET_MS = 10_000;
  private inFlight = 0;
  private limit: number;
  private readonly waiting: Array<{ go: () => void; gone: boolean }> = [];
  private head = 0;
  /** A growth check is on its way (a timer, then two turns of the event loop). */
  private checking = false;
  private idleSince = 0;
  private answered = 0;

  constructor(
    private readonly initial: number,
    private readonly max: number,
    /** False while whatever sends the requests is not up yet: no answer then says nothing of Slack. */
    private readonly ready: () => boolean = () => true,
  ) {
    this.limit = Math.max(1, Math.min(initial, max));
  }

  /** Resolves when the request may be sent; rejects if `signal` fires first. Call release() after. */
  acquire(signal?: AbortSignal): Promise<void> | undefined {
    if (this.inFlight === 0 && this.waiting.length === this.head && performance.now() - this.idleSince > ConnectionBudget.QUIET_MS) {
      this.limit = Math.max(1, Math.min(this.initial, this.max));
    }
    if (this.inFlight < this.limit && this.waiting.length === this.head) {
      this.inFlight += 1;
      return undefined;
    }
    if (signal?.aborted) return Promise.reject(new Error('aborted before sending'));
    return new Promise<void>((resolve, reject) => {
      const entry = {
        gone: false,
        go: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        entry.gone = true;
        reject(new Error('aborted before sending'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(entry);
      this.armGrowth();
    });
  }

  release(): void {
    this.inFlight -= 1;
    this.answered += 1;
    this.dispatch();
    if (this.inFlight === 0 && this.waiting.length === this.head) this.idleSince = performance.now();
  }

  private dispatch(): void {
    while (this.inFlight < this.limit && this.head < this.waiting.length) {
      const next = this.waiting[this.head]!;
      this.waiting[this.head++] = undefined as never;
      if (next.gone) continue;
      this.inFlight += 1;
      next.go();
    }
    if (this.head === this.waiting.length) {
      this.waiting.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.waiting.length) {
      this.waiting.splice(0, this.head);
      this.head = 0;
    }
  }

  /**
   * While anything waits, the budget doubles after two STALL_MS in a row in which no request was
   * answered. Each verdict waits for two more turns of the event loop, each of which reads the
   * sockets and the HTTP thread's answers: when this process was busy (a burst of posts being
   * built) or the thread was slow to get the CPU, answers that were already back are counted
   * first, so our own pause is not taken for Slack's.
   */
  private armGrowth(silent = 0): void {
    if (this.checking || this.limit >= this.max) return;
    this.checking = true;
    const answered = this.answered;
    const timer = setTimeout(() => {
      setImmediate(() =>
        setImmediate(() => {
          this.checking = false;
          if (this.head >= this.waiting.length) return;
          const stalled = this.answered === answered && this.ready() ? silent + 1 : 0;
          if (stalled >= 2) {
            this.limit = Math.min(this.max, this.limit * 2);
            this.dispatch();
          }
          if (this.head < this.waiting.length) this.armGrowth(stalled >= 2 ? 0 : stalled);
        }),
      );
    }, ConnectionBudget.STALL_MS);
    timer.unref();
  }
}

/** Answers bigger than this are refused (conversations.replies with limit 1 is a few KiB). */
const MAX_ANSWER_BYTES = 4 * 1024 * 1024;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Methods Slack accepts only form-encoded (or as a query): its read methods. */
const FORM_ONLY = new Set(['conversations.replies', 'conversations.history', 'conversations.info', 'users.info', 'auth.test']);

/** application/x-www-form-urlencoded, as Slack's own client sends it. */
export function formBody(args: Args): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(args)) {
    if (value === undefined) continue;
    const text = typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
    parts.push(`${encodeURIComponent(key)}=${encodeURIComponent(text)}`);
  }
  return parts.join('&');
}

export function createSlackWebApi(opts: SlackWebApiOptions): SlackWebApi {
  const base = new URL(opts.apiUrl.endsWith('/') ? opts.apiUrl : `${opts.apiUrl}/`);
  const secure = base.protocol === 'https:';
  if (!secure && base.protocol !== 'http:') throw new Error(`SLACK_API_URL must be http(s): ${opts.apiUrl}`);
  const maxSockets = opts.maxSockets ?? 256;
  const budget = new ConnectionBudget(opts.initialSockets ?? 16, maxSockets, httpThreadReady);
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const authorization = `Bearer ${opts.token}`;

  // Each method's address as the HTTP thread takes it, worked out once.
  const places = new Map<string, { hostname: string; port: string | undefined; path: string }>();
  const placeOf = (method: string) => {
    const known = places.get(method);
    if (known) return known;
    const url = new URL(method, base);
    const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const place = { hostname, port: url.port || undefined, path: `${url.pathname}${url.search}` };
    places.set(method, place);
    return place;
  };

  function call(method: string, args: Args, signal?: AbortSignal): Promise<SlackAnswer> {
    const form = FORM_ONLY.has(method);
    return send(method, form ? formBody(args) : JSON.stringify(args), form, signal);
  }

  function send(method: string, text: string, form: boolean, signal: AbortSignal | undefined): Promise<SlackAnswer> {
    const wait = budget.acquire(signal);
    if (!wait) return sendNow(method, text, form, signal).finally(() => budget.release());
    return wait.then(() => sendNow(method, text, form, signal).finally(() => budget.release()));
  }

  async function sendNow(method: string, text: string, form: boolean, signal: AbortSignal | undefined): Promise<SlackAnswer> {
    const a = await callOnThread(
      {
        secure,
        ...placeOf(method),
        headers: {
          authorization,
          'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json; charset=utf-8',
          'content-length': Buffer.byteLength(text),
          accept: 'application/json',
        },
        body: text,
        timeoutMs,
        maxSockets,
        maxBytes: MAX_ANSWER_BYTES,
      },
      signal,
    );
    if ('error' in a) throw new SlackApiError('slack_webapi_request_error', `${method}: ${a.error}`);
    const { status } = a;
    if (status === 429) {
      const headers = a.headers ?? {};
      const seconds = Number(headers['retry-after']);
      throw new SlackApiError('slack_webapi_rate_limited_error', `${method}: rate limited`, {
        statusCode: 429,
        headers,
        retryAfter: Number.isFinite(seconds) && seconds >= 0 ? seconds : 1,
      });
    }
    if (status !== 200) throw new SlackApiError('slack_webapi_http_error', `${method}: HTTP ${status}`, { statusCode: status, headers: a.headers ?? {} });
    let answer: unknown;
    try {
      answer = JSON.parse(a.text);
    } catch {
      throw new SlackApiError('slack_webapi_request_error', `${method}: the answer is not JSON`);
    }
    if (!isRecord(answer) || typeof answer.ok !== 'boolean') throw new SlackApiError('slack_webapi_request_error', `${method}: the answer has no "ok"`);
    if (answer.ok === true) return answer as SlackAnswer;
    const error = typeof answer.error === 'string' ? answer.error : 'unknown_error';
    throw new SlackApiError('slack_webapi_platform_error', `${method}: ${error}`, { data: { ...answer, error }, statusCode: status, headers: {} });
  }

  const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  const posted = (a: SlackAnswer): Posted => {
    const ts = text(a.ts);
    return ts ? { ts } : {};
  };
  const plain = (method: string) => (args: object, signal?: AbortSignal) => call(method, { ...args }, signal);
  return {
    call,
    chat: {
      postMessage: async (args, signal) => {
        if (!('prepared' in args)) return posted(await call('chat.postMessage', { ...args }, signal));
        const thread = args.thread_ts === undefined ? '' : `,"thread_ts":${JSON.stringify(args.thread_ts)}`;
        return posted(await send('chat.postMessage', `{"channel":${JSON.stringify(args.channel)}${thread}${args.prepared.rest}`, false, signal));
      },
      update: async (args, signal) => posted(await call('chat.update', { ...args }, signal)),
      postEphemeral: plain('chat.postEphemeral'),
    },
    conversations: {
      create: async (args, signal) => {
        const channel = (await call('conversations.create', { ...args }, signal)).channel;
        const id = isRecord(channel) ? text(channel.id) : undefined;
        return id ? { channelId: id } : {};
      },
      invite: plain('conversations.invite'),
      replies: plain('conversations.replies'),
    },
    views: { open: plain('views.open') },
  };
}
