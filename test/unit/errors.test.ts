/**
 * The error family (src/errors.ts, README §Error codes): every error zapwire
 * raises on purpose is a ZapwireError with a stable code from ERROR_CODES and,
 * when the protocol names the failure, its docs/protocol.md status.
 */
import { describe, expect, it } from 'vitest';
import type { Delivery } from '../../src/client/deliveries.js';
import {
  BadJsonError,
  CliError,
  ConnectionError,
  DatabaseOpenError,
  ERROR_CODES,
  type ErrorCode,
  errorForStatus,
  ForbiddenError,
  FrameError,
  isProtocolError,
  ListenerError,
  MalformedRequestError,
  MethodError,
  NoRouteError,
  NotFoundError,
  OptionError,
  RateLimitError,
  ReplacedError,
  TimeoutError,
  TooLargeError,
  UnauthorizedError,
  UnavailableError,
  ZapwireError,
} from '../../src/errors.js';
import { Status } from '../../src/protocol/status.js';

const DELIVERY: Delivery = {
  type: 'message',
  sender: '5511999990001',
  chat: { kind: 'user', number: '5511999990001' },
  ts: 1_700_000_000,
  text: 'hi',
  wantsReceipt: true,
};

interface Member {
  make: () => ZapwireError;
  type: abstract new (...args: never[]) => ZapwireError;
  code: ErrorCode;
  status: number | undefined;
}

/** Every class, as the specification reads: its code and status. */
const FAMILY: readonly Member[] = [
  {
    make: () => new MalformedRequestError(),
    type: MalformedRequestError,
    code: 'ZAPWIRE_MALFORMED_REQUEST',
    status: 400,
  },
  {
    make: () => new FrameError('ts', 'ts is not 10 digits'),
    type: FrameError,
    code: 'ZAPWIRE_MALFORMED_FRAME',
    status: 400,
  },
  { make: () => new BadJsonError(), type: BadJsonError, code: 'ZAPWIRE_BAD_JSON', status: 400 },
  {
    make: () => new UnauthorizedError(),
    type: UnauthorizedError,
    code: 'ZAPWIRE_UNAUTHORIZED',
    status: 401,
  },
  {
    make: () => new ForbiddenError(),
    type: ForbiddenError,
    code: 'ZAPWIRE_FORBIDDEN',
    status: 403,
  },
  { make: () => new NotFoundError(), type: NotFoundError, code: 'ZAPWIRE_NOT_FOUND', status: 404 },
  { make: () => new TimeoutError(), type: TimeoutError, code: 'ZAPWIRE_TIMEOUT', status: 408 },
  { make: () => new ReplacedError(), type: ReplacedError, code: 'ZAPWIRE_REPLACED', status: 409 },
  { make: () => new TooLargeError(), type: TooLargeError, code: 'ZAPWIRE_TOO_LARGE', status: 413 },
  {
    make: () => new RateLimitError(),
    type: RateLimitError,
    code: 'ZAPWIRE_RATE_LIMITED',
    status: 429,
  },
  {
    make: () => new UnavailableError(),
    type: UnavailableError,
    code: 'ZAPWIRE_UNAVAILABLE',
    status: 503,
  },
  {
    make: () => new NoRouteError('/v2'),
    type: NoRouteError,
    code: 'ZAPWIRE_NO_ROUTE',
    status: undefined,
  },
  {
    make: () => new MethodError('POST'),
    type: MethodError,
    code: 'ZAPWIRE_METHOD',
    status: undefined,
  },
  {
    make: () => new ConnectionError(),
    type: ConnectionError,
    code: 'ZAPWIRE_CONNECTION',
    status: 503,
  },
  {
    make: () => new ListenerError(DELIVERY, new Error('boom')),
    type: ListenerError,
    code: 'ZAPWIRE_LISTENER',
    status: undefined,
  },
  {
    make: () => new OptionError('port', 'port must be an integer'),
    type: OptionError,
    code: 'ZAPWIRE_BAD_OPTION',
    status: undefined,
  },
  {
    make: () => new CliError('no profile'),
    type: CliError,
    code: 'ZAPWIRE_CLI',
    status: undefined,
  },
  {
    make: () => new DatabaseOpenError('z.db', 'in use', 'ZAPWIRE_DATABASE_IN_USE'),
    type: DatabaseOpenError,
    code: 'ZAPWIRE_DATABASE_IN_USE',
    status: 503,
  },
  {
    make: () => new DatabaseOpenError('z.db', 'damaged', 'ZAPWIRE_DATABASE_UNUSABLE'),
    type: DatabaseOpenError,
    code: 'ZAPWIRE_DATABASE_UNUSABLE',
    status: 503,
  },
];

/** The codes no class throws: the base's own, and the HTTP API's answer to an unexpected failure. */
const CLASSLESS: readonly ErrorCode[] = ['ZAPWIRE_ERROR', 'ZAPWIRE_INTERNAL'];

describe('the error family', () => {
  for (const { make, type, code, status } of FAMILY) {
    it(`${type.name}: code ${code}, status ${status ?? 'none'}`, () => {
      const err = make();
      expect(err).toBeInstanceOf(ZapwireError);
      expect(err).toBeInstanceOf(Error);
      expect(err).toBeInstanceOf(type);
      expect(err.name).toBe(type.name);
      expect(err.code).toBe(code);
      expect(err.status).toBe(status);
      expect(isProtocolError(err)).toBe(status !== undefined);
    });
  }

  it('gives every code one class, but the base code and the HTTP API internal error', () => {
    const classed = FAMILY.map((m) => m.code);
    expect(new Set(classed).size).toBe(classed.length);
    expect([...classed, ...CLASSLESS].sort()).toEqual([...ERROR_CODES].sort());
  });

  it('codes are ZAPWIRE_ and upper case, each listed once', () => {
    for (const code of ERROR_CODES) expect(code).toMatch(/^ZAPWIRE_[A-Z_]+$/);
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
  });

  it('keeps the cause', () => {
    const cause = new Error('ECONNREFUSED');
    expect(new ConnectionError('cannot connect', { cause }).cause).toBe(cause);
    expect(new ListenerError(DELIVERY, cause).cause).toBe(cause);
    expect(new CliError('x', { cause }).cause).toBe(cause);
    expect(new DatabaseOpenError('z.db', 'x', 'ZAPWIRE_DATABASE_UNUSABLE', { cause }).cause).toBe(
      cause,
    );
    expect(new ZapwireError('x', 'ZAPWIRE_ERROR', { cause }).cause).toBe(cause);
    expect('cause' in new ConnectionError()).toBe(false);
  });

  it('carries what each failure adds: the frame field, the option, the delivery, the file', () => {
    expect(new FrameError('dst', 'dst is not 13 digits').field).toBe('dst');
    expect(new OptionError('logLevel', 'logLevel must be one of ...').option).toBe('logLevel');
    expect(new ListenerError(DELIVERY, 'thrown').delivery).toBe(DELIVERY);
    expect(new ListenerError(DELIVERY, 'thrown').message).toMatch(
      /a message listener threw \(thrown\)/,
    );
    expect(new DatabaseOpenError('z.db', 'x', 'ZAPWIRE_DATABASE_IN_USE').file).toBe('z.db');
    expect(new NoRouteError('/v2/x').message).toBe('no route /v2/x');
    expect(new MethodError('GET').message).toBe('use GET');
  });

  it('CliError exits 1 unless told another exit code', () => {
    expect(new CliError('no profile').exitCode).toBe(1);
    expect(new CliError('usage', { exitCode: 2 }).exitCode).toBe(2);
  });

  it('a plain Error is not a protocol error', () => {
    expect(isProtocolError(new Error('x'))).toBe(false);
    expect(isProtocolError({ status: 400, code: 'ZAPWIRE_MALFORMED_REQUEST' })).toBe(false);
  });
});

describe('errorForStatus: a status that crossed a thread or the wire', () => {
  /** The class each protocol status comes back as (docs/protocol.md §Codes). */
  const BY_STATUS: readonly [number, Member['type']][] = [
    [Status.Malformed, MalformedRequestError],
    [Status.Unauthorized, UnauthorizedError],
    [Status.Forbidden, ForbiddenError],
    [Status.NotFound, NotFoundError],
    [Status.Timeout, TimeoutError],
    [Status.Replaced, ReplacedError],
    [Status.TooLarge, TooLargeError],
    [Status.TooMany, RateLimitError],
    [Status.Unavailable, UnavailableError],
  ];

  it('names a class for every status of docs/protocol.md', () => {
    expect(BY_STATUS.map(([status]) => status).sort()).toEqual(Object.values(Status).sort());
  });

  for (const [status, type] of BY_STATUS) {
    it(`${status} comes back as ${type.name}, with the reason as its message`, () => {
      const err = errorForStatus(status, 'the reason');
      expect(err).toBeInstanceOf(type);
      expect(err.status).toBe(status);
      expect(err.message).toBe('the reason');
    });
  }

  /** Only the status crosses: the codes that share one come back as the status's own class. */
  const READ_BACK_AS: Partial<Record<ErrorCode, ErrorCode>> = {
    ZAPWIRE_MALFORMED_FRAME: 'ZAPWIRE_MALFORMED_REQUEST',
    ZAPWIRE_BAD_JSON: 'ZAPWIRE_MALFORMED_REQUEST',
    ZAPWIRE_CONNECTION: 'ZAPWIRE_UNAVAILABLE',
    ZAPWIRE_DATABASE_IN_USE: 'ZAPWIRE_UNAVAILABLE',
    ZAPWIRE_DATABASE_UNUSABLE: 'ZAPWIRE_UNAVAILABLE',
  };

  it('round trip: every error with a status comes back with its status, message and code', () => {
    for (const { make } of FAMILY) {
      const err = make();
      if (!isProtocolError(err)) continue;
      const back = errorForStatus(err.status, err.message);
      expect(back.status).toBe(err.status);
      expect(back.message).toBe(err.message);
      expect(back.code).toBe(READ_BACK_AS[err.code] ?? err.code);
    }
  });

  it('keeps a status it has no class for, as ZAPWIRE_ERROR', () => {
    const err = errorForStatus(418, 'teapot');
    expect(err).toBeInstanceOf(ZapwireError);
    expect(err.code).toBe('ZAPWIRE_ERROR');
    expect(err.status).toBe(418);
  });
});
