// One small code union, mapped once per surface (CLI exit code, Slack ephemeral, HTTP status).
export const ERROR_CODES = ['NOT_FOUND', 'FORBIDDEN', 'INVALID', 'CONFLICT', 'INTERNAL'] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export class SitrepError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.code = code;
    this.name = 'SitrepError';
  }
}

export const invalid = (message: string) => new SitrepError('INVALID', message);
export const notFound = (message: string) => new SitrepError('NOT_FOUND', message);
export const forbidden = (message: string) => new SitrepError('FORBIDDEN', message);
export const conflict = (message: string) => new SitrepError('CONFLICT', message);

export const isSitrepError = (e: unknown): e is SitrepError => e instanceof SitrepError;
