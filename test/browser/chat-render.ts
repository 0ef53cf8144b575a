// Renders the Block Kit and Adaptive Card JSON that Sitrep really sent (as captured by the fake
// Slack and the fake Teams connector) into static HTML that looks like the two clients, so the
// README's pictures are screenshots of what the code produces rather than drawings. It covers the
// elements Sitrep uses (adapters/slack/blocks.ts, adapters/teams/cards.ts) and says so when it
// meets one it does not know, so a new element shows up as a visible gap, not a silent omission.
//
// The machines have no colour-emoji font, so emoji are drawn as small coloured badges from a
// table here: the same on every machine, whatever fonts it has.

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&#39;'));

/** Shortcode (Slack) or code point (Teams) → a badge: a colour and a DejaVu glyph. */
const EMOJI: Record<string, { color: string; glyph: string; round?: boolean }> = {
  red_circle: { color: '#e01e5a', glyph: '', round: true },
  large_orange_circle: { color: '#f2952f', glyph: '', round: true },
  large_blue_circle: { color: '#1d9bd1', glyph: '', round: true },
  white_check_mark: { color: '#2eb67d', glyph: '✔' },
  heavy_check_mark: { color: '#2eb67d', glyph: '✔' },
  ballot_box_with_check: { color: '#1d9bd1', glyph: '✔' },
  rotating_light: { color: '#e01e5a', glyph: '!' },
  arrows_counterclockwise: { color: '#1d9bd1', glyph: '↻' },
  warning: { color: '#ecb22e', glyph: '!' },
  bust_in_silhouette: { color: '#616061', glyph: '●' },
  jigsaw: { color: '#7c3085', glyph: '◆' },
  memo: { color: '#616061', glyph: '✎' },
  spiral_note_pad: { color: '#616061', glyph: '✎' },
  pencil2: { color: '#f2952f', glyph: '✎' },
  no_entry_sign: { color: '#e01e5a', glyph: '⊘' },
  mega: { color: '#2eb67d', glyph: '➤' },
  repeat: { color: '#1d9bd1', glyph: '↻' },
  clipboard: { color: '#616061', glyph: '☰' },
  pushpin: { color: '#e01e5a', glyph: '●' },
  books: { color: '#7c3085', glyph: '☰' },
  x: { color: '#e01e5a', glyph: '✖' },
};
const UNICODE: Record<string, string> = {
  '🔴': 'red_circle',
  '🟠': 'large_orange_circle',
  '🔵': 'large_blue_circle',
  '✅': 'white_check_mark',
  '📚': 'books',
  '🚨': 'rotating_light',
  '🔄': 'arrows_counterclockwise',
  '⚠️': 'warning',
  '👤': 'bust_in_silhouette',
  '🧩': 'jigsaw',
  '📝': 'memo',
  '🗒️': 'spiral_note_pad',
  '✏️': 'pencil2',
  '☑️': 'ballot_box_with_check',
  '🚫': 'no_entry_sign',
  '📣': 'mega',
  '🔁': 'repeat',
  '📋': 'clipboard',
  '✔️': 'heavy_check_mark',
  '📌': 'pushpin',
  '❌': 'x',
};

function badge(name: string): string | null {
  const e = EMOJI[name];
  if (!e) return null;
  return `<span class="emoji${e.round ? ' round' : ''}" style="background:${e.color}">${e.glyph}</span>`;
}

/** Already-escaped HTML with the known emoji code points replaced by badges. */
function unicodeEmoji(html: string): string {
  let out = html;
  for (const [ch, name] of Object.entries(UNICODE)) out = out.split(ch).join(badge(name) ?? ch);
  // A variation selector left over from an emoji we drew ourselves.
  return out.replace(/\uFE0F/g, '');
}

// --- Slack -----------------------------------------------------------------------------------

type Json = Record<string, any>;

export interface SlackMessageJson {
  text: string;
  blocks?: unknown[];
}

/** Inline mrkdwn: *bold*, _italic_, ~strike~, `code`, :emoji:, and Slack's <…> tokens. */
function inlineMrkdwn(text: string, users: Record<string, string>): string {
  // Slack sends &, < and > as entities; every <…> is a token (mention, date, link, command).
  const parts: string[] = [];
  const re = /<([^<>]*)>/g;
  let last = 0;
  const plain = (s: string) => esc(s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&'));
  for (let m = re.exec(text); m; m = re.exec(text)) {
    parts.push(plain(text.slice(last, m.index)));
    const tok = m[1]!;
    const [head, label] = tok.split('|', 2) as [string, string | undefined];
    if (head.startsWith('@')) parts.push(`<span class="mention">@${esc(users[head.slice(1)] ?? head.slice(1))}</span>`);
    else if (head.startsWith('#')) parts.push(`<span class="mention">#${esc(label ?? head.slice(1))}</span>`);
    else if (head.startsWith('!date^')) parts.push(esc(label ?? ''));
    else if (head.startsWith('!')) parts.push(`<span class="mention">@${esc(head.slice(1))}</span>`);
    else parts.push(`<a href="${esc(head)}">${esc(label ?? head)}</a>`);
    last = m.index + m[0].length;
  }
  parts.push(plain(text.slice(last)));
  return parts
    .join('')
    .replace(/(^|[\s>(])\*([^*\n]+)\*(?=$|[\s<.,:;)!?])/g, '$1<b>$2</b>')
    .replace(/(^|[\s>(])_([^_\n]+)_(?=$|[\s<.,:;)!?])/g, '$1<i>$2</i>')
    .replace(/(^|[\s>(])~([^~\n]+)~(?=$|[\s<.,:;)!?])/g, '$1<s>$2</s>')
    .replace(/`([^`\n]+)`/g, '<code>$1</code>')
    .replace(/:([a-z0-9_+-]+):/g, (whole, name: string) => badge(name) ?? whole);
}

/** A mrkdwn text object: lines, with `>` lines as a block quote. */
function mrkdwn(text: string, users: Record<string, string>): string {
  const out: string[] = [];
  let quote: string[] = [];
  const flush = () => {
    if (quote.length) out.push(`<blockquote>${quote.join('<br>')}</blockquote>`);
    quote = [];
  };
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    // Slack also takes the escaped form of the marker: &gt; at the start of a line.
    const q = /^(?:>|&gt;)(.*)$/.exec(line);
    if (q) {
      quote.push(inlineMrkdwn(q[1]!, users));
      return;
    }
    flush();
    out.push(inlineMrkdwn(line, users) + (i < lines.length - 1 ? '<br>' : ''));
  });
  flush();
  return out.join('');
}

function textObject(t: Json | undefined, users: Record<string, string>): string {
  if (!t) return '';
  return t.type === 'mrkdwn' ? mrkdwn(String(t.text), users) : unicodeEmoji(esc(String(t.text))).replace(/:([a-z0-9_+-]+):/g, (w, n: string) => badge(n) ?? w);
}

function block(b: Json, users: Record<string, string>): string {
  switch (b.type) {
    case 'header':
      return `<div class="b-header">${textObject(b.text, users)}</div>`;
    case 'section': {
      const text = b.text ? `<div class="b-text">${textObject(b.text, users)}</div>` : '';
      const fields = Array.isArray(b.fields) ? `<div class="b-fields">${b.fields.map((f: Json) => `<div>${textObject(f, users)}</div>`).join('')}</div>` : '';
      return `<div class="b-section">${text}${fields}</div>`;
    }
    case 'context':
      return `<div class="b-context">${(b.elements as Json[]).map((e) => `<span>${textObject(e, users)}</span>`).join(' ')}</div>`;
    case 'actions':
      return `<div class="b-actions">${(b.elements as Json[])
        .map((e) =>
          e.type === 'button' ? `<span class="btn ${e.style ?? ''}">${textObject(e.text, users)}</span>` : `<span class="unknown">${esc(e.type)}</span>`,
        )
        .join('')}</div>`;
    case 'divider':
      return '<hr>';
    default:
      return `<div class="unknown">[block ${esc(String(b.type))} not rendered]</div>`;
  }
}

function slackMessage(m: SlackMessageJson, users: Record<string, string>, time: string): string {
  const body = m.blocks?.length ? (m.blocks as Json[]).map((b) => block(b, users)).join('') : `<div class="b-text">${mrkdwn(m.text, users)}</div>`;
  return `<div class="msg"><div class="avatar">S</div><div class="content"><div class="who"><b>Sitrep</b><span class="app">APP</span><span class="time">${esc(time)}</span></div>${body}</div></div>`;
}

const SLACK_CSS = `
*{box-sizing:border-box}
body{margin:0;background:#fff;color:#1d1c1d;font:15px/1.46668 "Liberation Sans","DejaVu Sans",Arial,sans-serif}
.pane{width:640px;border:1px solid #dddddd;border-radius:8px;overflow:hidden;margin:12px}
.top{display:flex;align-items:baseline;gap:8px;padding:12px 16px;border-bottom:1px solid #dddddd}
.top b{font-size:18px}.top span{color:#616061;font-size:13px}
.msg{display:flex;gap:8px;padding:8px 16px}
.avatar{flex:none;width:36px;height:36px;border-radius:6px;background:#4a154b;color:#fff;font-weight:700;display:flex;align-items:center;justify-content:center}
.content{min-width:0;flex:1}
.who{display:flex;align-items:center;gap:6px}
.app{background:#e8e8e8;color:#616061;font-size:10px;font-weight:700;padding:0 3px;border-radius:2px}
.time{color:#616061;font-size:12px}
.b-header{font-size:18px;font-weight:700;margin:4px 0}
.b-section{margin:4px 0}
.b-fields{display:grid;grid-template-columns:1fr 1fr;gap:8px 16px;margin:4px 0}
.b-context{color:#616061;font-size:13px;margin:4px 0}
.b-actions{display:flex;gap:8px;margin:8px 0 4px}
.btn{border:1px solid #bbbabb;border-radius:4px;padding:3px 12px;font-weight:700;font-size:14px}
.btn.primary{background:#007a5a;border-color:#007a5a;color:#fff}
.btn.danger{color:#e01e5a}
blockquote{margin:4px 0;padding-left:12px;border-left:4px solid #dddddd}
.mention{background:#e8f5fa;color:#1264a3;border-radius:3px;padding:0 2px}
code{font-family:"DejaVu Sans Mono",monospace;font-size:12px;background:#f6f6f6;border:1px solid #e8e8e8;border-radius:3px;padding:0 3px}
.emoji{display:inline-flex;align-items:center;justify-content:center;width:18px;height:18px;border-radius:4px;color:#fff;font-size:12px;font-weight:700;vertical-align:-3px}
.emoji.round{border-radius:50%;width:15px;height:15px}
.replies{display:flex;align-items:center;gap:12px;color:#616061;font-size:13px;padding:4px 16px}
.replies:after{content:"";flex:1;border-top:1px solid #dddddd}
.unknown{color:#e01e5a;font-style:italic}
`;

/** A Slack thread pane: the root message, then its replies, as the Slack client shows a thread. */
export function renderSlackThread(opts: {
  channel: string;
  root: SlackMessageJson;
  replies: SlackMessageJson[];
  users: Record<string, string>;
  time: (i: number) => string;
}): string {
  const { root, replies, users } = opts;
  return `<!doctype html><html><head><meta charset="utf-8"><style>${SLACK_CSS}</style></head><body><div class="pane">
<div class="top"><b>Thread</b><span>#${esc(opts.channel)}</span></div>
${slackMessage(root, users, opts.time(0))}
<div class="replies">${replies.length} replies</div>
${replies.map((r, i) => slackMessage(r, users, opts.time(i + 1))).join('\n')}
</div></body></html>`;
}

// --- Adaptive Cards (Teams) ------------------------------------------------------------------

/** TextBlock markdown: **bold**, _italic_, backslash escapes; never raw HTML. */
function cardMarkdown(text: string): string {
  const stash: string[] = [];
  // A backslash makes the next punctuation literal: keep it aside (behind private-use marks no
  // card text carries) so no rule below sees it.
  const held = text.replace(/\\([\\`*_[\]~#>+\-.])/g, (_m, c: string) => `\uE000${stash.push(c) - 1}\uE001`);
  const html = esc(held)
    .replace(/\*\*([^*]+)\*\*/g, '<b>$1</b>')
    .replace(/(^|\s)_([^_]+)_(?=$|\s|[.,])/g, '$1<i>$2</i>')
    .replace(/\n/g, '<br>')
    .replace(/\uE000(\d+)\uE001/g, (_m, i: string) => esc(stash[Number(i)]!));
  return unicodeEmoji(html.replace(/\u200B/g, ''));
}

const SIZE: Record<string, string> = { Small: '12px', Default: '14px', Medium: '17px', Large: '21px', ExtraLarge: '26px' };
const COLOR: Record<string, string> = { attention: '#c4314b', warning: '#c0670b', good: '#237b4b', accent: '#5b5fc7', default: 'inherit' };

function element(e: Json): string {
  switch (e.type) {
    case 'TextBlock': {
      const style = [
        `font-size:${SIZE[e.size ?? 'Default']}`,
        e.weight === 'Bolder' ? 'font-weight:700' : '',
        e.color ? `color:${COLOR[e.color] ?? 'inherit'}` : '',
        e.isSubtle ? 'opacity:.72' : '',
        e.spacing === 'Medium' || e.spacing === 'Large' ? 'margin-top:14px' : '',
      ]
        .filter(Boolean)
        .join(';');
      return `<div class="tb" style="${style}">${cardMarkdown(String(e.text))}</div>`;
    }
    case 'FactSet':
      return `<table class="facts">${(e.facts as Json[]).map((f) => `<tr><th>${cardMarkdown(String(f.title))}</th><td>${cardMarkdown(String(f.value))}</td></tr>`).join('')}</table>`;
    case 'Container':
      return `<div class="container ${e.style ?? ''}">${(e.items as Json[]).map(element).join('')}</div>`;
    case 'Input.Text':
      return `<div class="input">${esc(String(e.placeholder ?? ''))}</div>`;
    default:
      return `<div class="unknown">[element ${esc(String(e.type))} not rendered]</div>`;
  }
}

function action(a: Json): string {
  return `<span class="action ${a.style ?? ''}">${esc(String(a.title))}</span>`;
}

export function adaptiveCard(card: Json): string {
  const actions = Array.isArray(card.actions) && card.actions.length ? `<div class="actions">${(card.actions as Json[]).map(action).join('')}</div>` : '';
  return `<div class="card">${(card.body as Json[]).map(element).join('')}${actions}</div>`;
}

const TEAMS_CSS = `
*{box-sizing:border-box}
body{margin:0;background:#f5f5f5;color:#242424;font:14px/1.43 "Liberation Sans","DejaVu Sans",Arial,sans-serif}
.post{width:600px;margin:12px;background:#fff;border-radius:6px;box-shadow:0 1px 2px rgba(0,0,0,.14);padding:12px 16px}
.who{display:flex;align-items:center;gap:8px;margin-bottom:8px}
.avatar{width:32px;height:32px;border-radius:50%;background:#5b5fc7;color:#fff;font-weight:700;display:flex;align-items:center;justify-content:center}
.who span{color:#616161;font-size:12px}
.card{border:1px solid #e0e0e0;border-radius:4px;padding:14px 16px}
.tb{margin:4px 0}
.facts{border-collapse:collapse;margin:6px 0}
.facts th{text-align:left;font-weight:700;padding:2px 16px 2px 0;vertical-align:top;white-space:nowrap}
.facts td{padding:2px 0}
.container.emphasis{background:#f5f5f5;padding:8px 10px;margin:6px -4px}
.input{border:1px solid #d1d1d1;border-radius:4px;padding:6px;color:#616161}
.actions{display:flex;gap:8px;margin-top:14px}
.action{flex:1;text-align:center;border:1px solid #d1d1d1;border-radius:4px;padding:6px 10px;font-weight:600;color:#5b5fc7}
.action.positive{background:#5b5fc7;color:#fff;border-color:#5b5fc7}
.emoji{display:inline-flex;align-items:center;justify-content:center;width:17px;height:17px;border-radius:4px;color:#fff;font-size:11px;font-weight:700;vertical-align:-2px}
.emoji.round{border-radius:50%;width:14px;height:14px}
.unknown{color:#c4314b;font-style:italic}
`;

/** A Teams channel post by the bot holding one Adaptive Card. */
export function renderTeamsPost(card: Json, opts: { channel: string }): string {
  return `<!doctype html><html><head><meta charset="utf-8"><style>${TEAMS_CSS}</style></head><body><div class="post">
<div class="who"><div class="avatar">S</div><div><b>Sitrep</b><br><span>${esc(opts.channel)}</span></div></div>
${adaptiveCard(card)}
</div></body></html>`;
}
