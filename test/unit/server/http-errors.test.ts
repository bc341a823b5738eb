/**
 * README §HTTP API: the HTTP API answers every failure through one table,
 * error code -> HTTP status, with `{"error":{"status","code","message"}}`.
 */
import { describe, expect, it } from 'vitest';
import {
  BadJsonError,
  ConnectionError,
  ERROR_CODES,
  type ErrorCode,
  errorForStatus,
  MalformedRequestError,
  MethodError,
  NoRouteError,
  TooLargeError,
  UnauthorizedError,
  UnavailableError,
  ZapwireError,
} from '../../../src/errors.js';
import { HTTP_STATUS, httpErrorAnswer } from '../../../src/server/main-thread/http-errors.js';

/** The specification: the HTTP status of each code; null where the HTTP API never answers with it. */
const EXPECTED: Readonly<Record<ErrorCode, number | null>> = {
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
};

describe('the HTTP error table', () => {
  it('has an entry for every code', () => {
    expect(Object.keys(HTTP_STATUS).sort()).toEqual([...ERROR_CODES].sort());
  });

  for (const code of ERROR_CODES) {
    const status = EXPECTED[code];
    it(`${code} -> ${status === null ? '500 ZAPWIRE_INTERNAL' : status}`, () => {
      const answer = httpErrorAnswer(new ZapwireError('the reason', code));
      if (status === null) {
        expect(answer).toEqual({
          status: 500,
          body: { error: { status: 500, code: 'ZAPWIRE_INTERNAL', message: 'internal error' } },
          expected: false,
        });
      } else {
        expect(answer).toEqual({
          status,
          body: { error: { status, code, message: 'the reason' } },
          expected: true,
        });
      }
    });
  }

  it('answers the refusals the listener throws with their documented status and code', () => {
    const cases: [ZapwireError, number, ErrorCode][] = [
      [
        new MalformedRequestError('"to" must be a 13-digit number string'),
        400,
        'ZAPWIRE_MALFORMED_REQUEST',
      ],
      [new BadJsonError('malformed JSON: x'), 400, 'ZAPWIRE_BAD_JSON'],
      [
        new UnauthorizedError('Authorization: Bearer <number>:<token> required'),
        401,
        'ZAPWIRE_UNAUTHORIZED',
      ],
      [new NoRouteError('/v2/nothing'), 404, 'ZAPWIRE_NO_ROUTE'],
      [new MethodError('POST'), 405, 'ZAPWIRE_METHOD'],
      [new TooLargeError('body over 16384 bytes'), 413, 'ZAPWIRE_TOO_LARGE'],
      [new UnavailableError('server shutting down'), 503, 'ZAPWIRE_UNAVAILABLE'],
    ];
    for (const [err, status, code] of cases)
      expect(httpErrorAnswer(err).body.error).toEqual({ status, code, message: err.message });
  });

  it("answers a broker refusal (a status and a reason) with that status's code", () => {
    for (const [status, code] of [
      [403, 'ZAPWIRE_FORBIDDEN'],
      [404, 'ZAPWIRE_NOT_FOUND'],
      [429, 'ZAPWIRE_RATE_LIMITED'],
    ] as const) {
      const answer = httpErrorAnswer(errorForStatus(status, 'why'));
      expect(answer.status).toBe(status);
      expect(answer.body.error).toEqual({ status, code, message: 'why' });
    }
  });

  it('never shows the message of a failure nobody meant', () => {
    for (const err of [new Error('secret path /x'), 'thrown string', new ConnectionError('lost')]) {
      const answer = httpErrorAnswer(err);
      expect(answer.status).toBe(500);
      expect(answer.expected).toBe(false);
      expect(answer.body.error.message).toBe('internal error');
    }
  });
});
