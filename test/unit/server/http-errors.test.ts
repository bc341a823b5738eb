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

/** The specification: the codes answered with each HTTP status; `internal` ones never come out of the API's handlers. */
const BY_HTTP_STATUS: readonly [number | 'internal', readonly ErrorCode[]][] = [
  [400, ['ZAPWIRE_MALFORMED_REQUEST', 'ZAPWIRE_MALFORMED_FRAME', 'ZAPWIRE_BAD_JSON']],
  [401, ['ZAPWIRE_UNAUTHORIZED']],
  [403, ['ZAPWIRE_FORBIDDEN']],
  [404, ['ZAPWIRE_NOT_FOUND', 'ZAPWIRE_NO_ROUTE']],
  [405, ['ZAPWIRE_METHOD']],
  [408, ['ZAPWIRE_TIMEOUT']],
  [409, ['ZAPWIRE_REPLACED']],
  [413, ['ZAPWIRE_TOO_LARGE']],
  [429, ['ZAPWIRE_RATE_LIMITED']],
  [500, ['ZAPWIRE_INTERNAL']],
  [503, ['ZAPWIRE_UNAVAILABLE']],
  [
    'internal',
    [
      'ZAPWIRE_ERROR',
      'ZAPWIRE_CONNECTION',
      'ZAPWIRE_LISTENER',
      'ZAPWIRE_BAD_OPTION',
      'ZAPWIRE_CLI',
      'ZAPWIRE_DATABASE_IN_USE',
      'ZAPWIRE_DATABASE_UNUSABLE',
    ],
  ],
];

describe('the HTTP error table', () => {
  it('has an entry for every code, and the specification names each code once', () => {
    expect(Object.keys(HTTP_STATUS).sort()).toEqual([...ERROR_CODES].sort());
    expect(BY_HTTP_STATUS.flatMap(([, codes]) => codes).sort()).toEqual([...ERROR_CODES].sort());
  });

  for (const [status, codes] of BY_HTTP_STATUS) {
    for (const code of codes) {
      it(`${code} -> ${status === 'internal' ? '500 ZAPWIRE_INTERNAL, logged' : status}`, () => {
        const answer = httpErrorAnswer(new ZapwireError('the reason', code));
        if (status === 'internal') {
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
