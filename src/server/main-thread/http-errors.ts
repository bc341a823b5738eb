import { STATUS_CODES } from 'node:http';
import { type ErrorCode, ZapwireError } from '../../errors.js';

/**
 * The HTTP status of every error code (README §HTTP API). null: the code never
 * comes out of the HTTP API's handlers (the client's, the command line's,
 * start-up's), so meeting one there is an internal error. A Record over
 * ErrorCode, so that a new code cannot be added without its answer here.
 */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number | null>> = Object.freeze({
  ZAPWIRE_MALFORMED_REQUEST: 400,
  ZAPWIRE_MALFORMED_FRAME: 400,
  ZAPWIRE_BAD_JSON: 400,
  ZAPWIRE_UNAUTHORIZED: 401,
  ZAPWIRE_FORBIDDEN: 403,
  ZAPWIRE_NOT_FOUND: 404,
  ZAPWIRE_NO_ROUTE: 404,
  ZAPWIRE_METHOD: 405,
  ZAPWIRE_TIMEOUT: 408,
  ZAPWIRE_REPLACED: 409,
  ZAPWIRE_TOO_LARGE: 413,
  ZAPWIRE_RATE_LIMITED: 429,
  ZAPWIRE_INTERNAL: 500,
  ZAPWIRE_UNAVAILABLE: 503,
  ZAPWIRE_ERROR: null,
  ZAPWIRE_CONNECTION: null,
  ZAPWIRE_LISTENER: null,
  ZAPWIRE_BAD_OPTION: null,
  ZAPWIRE_CLI: null,
  ZAPWIRE_DATABASE_IN_USE: null,
  ZAPWIRE_DATABASE_UNUSABLE: null,
});

/** What the HTTP API answers for a failure: `{"error":{"status","code","message"}}` with that status. */
export interface HttpErrorAnswer {
  status: number;
  body: { error: { status: number; code: ErrorCode; message: string } };
  /** False for a failure nobody meant (not a ZapwireError the API answers with): log it as one. */
  expected: boolean;
}

const INTERNAL: Readonly<HttpErrorAnswer> = {
  status: 500,
  body: { error: { status: 500, code: 'ZAPWIRE_INTERNAL', message: 'internal error' } },
  expected: false,
};

/** The one mapping from an error to the HTTP API's answer; its message is never shown for an unexpected one. */
export function httpErrorAnswer(err: unknown): HttpErrorAnswer {
  if (!(err instanceof ZapwireError)) return INTERNAL;
  const status = HTTP_STATUS[err.code];
  if (status === null) return INTERNAL;
  return {
    status,
    body: { error: { status, code: err.code, message: err.message } },
    expected: true,
  };
}

/**
 * The same answer as raw HTTP/1.1 bytes with `connection: close`, for a
 * socket no ServerResponse serves: refused at the door before Node's parser
 * reads a byte, or refused at a WebSocket upgrade.
 */
export function rawHttpErrorAnswer(err: unknown): { status: number; bytes: Buffer } {
  const { status, body } = httpErrorAnswer(err);
  const text = JSON.stringify(body);
  const head = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`,
    'content-type: application/json; charset=utf-8',
    `content-length: ${Buffer.byteLength(text)}`,
    'connection: close',
  ];
  return { status, bytes: Buffer.from(`${head.join('\r\n')}\r\n\r\n${text}`) };
}
