import type * as AgentsHosting from '@microsoft/agents-hosting';

// The Microsoft 365 Agents SDK takes over half a second to load. Only the paths that talk to Teams
// (an inbound request with auth on, an outbound delivery) load it, on first use, so CLI commands
// and servers that never hear from Teams do not pay for it.

export type Sdk = typeof AgentsHosting;
export type ConnectorClient = AgentsHosting.ConnectorClient;
/** The SDK's Activity (its own package is not a direct dependency). */
export type Activity = ReturnType<Sdk['MessageFactory']['text']>;

let loading: Promise<Sdk> | null = null;

export function loadSdk(): Promise<Sdk> {
  return (loading ??= import('@microsoft/agents-hosting'));
}
