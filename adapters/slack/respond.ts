import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

// Posting a command's result to its response_url, on the hot path of every slash command. Bolt's
// respond() goes through fetch, which costs several times more per call (web streams, abort
// signals, a fresh request object graph); this is the same POST of the same JSON over keep-alive
// node:http(s) agents, and fails the same way (a non-2xx answer is an error).

const agents = {
  http: new HttpAgent({ keepAlive: true, maxSockets: 64 }),
  https: new HttpsAgent({ keepAlive: true, maxSockets: 64 }),
};

export class ResponseUrlError extends Error {
  constructor(
    message: string,
    readonly statusCode: number,
  ) {
    super(message);
  }
}

export function postToResponseUrl(responseUrl: string, message: Record<string, unknown>, timeoutMs = 10_000): Promise<void> {
  let url: URL;
  try {
    url = new URL(responseUrl);
  } catch {
    return Promise.reject(new Error('the response_url is not a URL'));
  }
  const https = url.protocol === 'https:';
  if (!https && url.protocol !== 'http:') return Promise.reject(new Error(`the response_url is not http(s): ${url.protocol}`));
  const body = JSON.stringify(message);
  return new Promise<void>((resolve, reject) => {
    const req = (https ? httpsRequest : httpRequest)(
      url,
      {
        method: 'POST',
        agent: https ? agents.https : agents.http,
        timeout: timeoutMs,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.on('error', reject);
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve();
          else reject(new ResponseUrlError(`Failed to respond to the response_url: ${status} ${res.statusMessage ?? ''}`.trim(), status));
        });
        res.resume();
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from the response_url within ${Math.round(timeoutMs / 1000)} s`)));
    req.on('error', reject);
    req.end(body);
  });
}
