import { describe, expect, it } from 'vitest';
import {
  AnswerQueue,
  errorFromData,
  type PendingRequest,
} from '../../../src/client/answer-queue.js';
import {
  ConnectionError,
  ForbiddenError,
  MalformedRequestError,
  NotFoundError,
  RateLimitError,
  ReplacedError,
  UnauthorizedError,
  UnavailableError,
  type ZapwireError,
} from '../../../src/errors.js';
import type { Code } from '../../../src/protocol/codes.js';
import { type Frame, NOBODY } from '../../../src/protocol/frame.js';

const ME = '1111111111111';
const BOB = '2222222222222';

function frame(code: Code, fields: Partial<Frame> = {}): Frame {
  return { code, src: NOBODY, dst: NOBODY, ts: 0, flag: false, data: '', ...fields };
}

/** A queue and a log of what happened to each request added through `add`. */
function setup(self = ME) {
  let number = self;
  const queue = new AnswerQueue(() => number);
  const log: string[] = [];
  const add = (name: string, answer: Code) => {
    const request: PendingRequest = {
      answer,
      resolve: (f) => log.push(`${name} <- ${f.code} ${f.data}`),
      reject: (e) => log.push(`${name} x ${e.status} ${e.name}`),
    };
    queue.add(request);
  };
  return { queue, log, add, setSelf: (n: string) => (number = n) };
}

describe('errorFromData', () => {
  const table: [string, new (...args: never[]) => ZapwireError, number, string][] = [
    ['400 bad frame', MalformedRequestError, 400, 'bad frame'],
    ['401 open a session (04) first', UnauthorizedError, 401, 'open a session (04) first'],
    ['403 not a member of the group', ForbiddenError, 403, 'not a member of the group'],
    ['404 unknown destination', NotFoundError, 404, 'unknown destination'],
    ['409 session replaced by a newer one', ReplacedError, 409, 'session replaced by a newer one'],
    ['429 sending too fast', RateLimitError, 429, 'sending too fast'],
    ['503 server shutting down', UnavailableError, 503, 'server shutting down'],
  ];
  for (const [data, type, status, message] of table) {
    it(`reads ${JSON.stringify(data)} as ${type.name}`, () => {
      const error = errorFromData(data);
      expect(error).toBeInstanceOf(type);
      expect(error).toMatchObject({ status, message });
    });
  }

  it('keeps an unknown status, and survives data that is not a status', () => {
    expect(errorFromData('418 teapot')).toMatchObject({
      status: 418,
      code: 'ZAPWIRE_ERROR',
      message: 'teapot',
    });
    const garbage = errorFromData('garbage');
    expect(garbage.code).toBe('ZAPWIRE_ERROR');
    expect(garbage.status).toBeUndefined();
  });
});

describe('AnswerQueue', () => {
  it('gives each answer to the oldest pending request, in order', () => {
    const { queue, log, add } = setup();
    add('send', '07');
    add('group', '11');
    add('valid', '20');
    expect(queue.route(frame('07', { data: '5' }))).toEqual({ kind: 'answered' });
    expect(queue.route(frame('11', { dst: '3333333333333' }))).toEqual({ kind: 'answered' });
    expect(queue.route(frame('20', { data: '1' }))).toEqual({ kind: 'answered' });
    expect(log).toEqual(['send <- 07 5', 'group <- 11 ', 'valid <- 20 1']);
    expect(queue.size).toBe(0);
  });

  it('never takes a 06 as an answer, wherever it comes', () => {
    const { queue, log, add } = setup();
    add('send', '07');
    expect(queue.route(frame('06', { src: BOB, dst: ME, data: '07' }))).toEqual({
      kind: 'delivery',
    });
    expect(queue.size).toBe(1);
    queue.route(frame('07', { src: ME, data: '9' }));
    expect(log).toEqual(['send <- 07 9']);
    expect(queue.route(frame('06'))).toEqual({ kind: 'delivery' });
  });

  it('lets a 09 answer the oldest request, so later answers still match', () => {
    const { queue, log, add } = setup();
    add('a', '07');
    add('b', '07');
    add('c', '07');
    queue.route(frame('07', { src: ME, data: '1' }));
    queue.route(frame('09', { src: ME, dst: '9999999999999', data: '404 unknown destination' }));
    queue.route(frame('06', { src: BOB, dst: ME }));
    queue.route(frame('07', { src: ME, data: '2' }));
    expect(log).toEqual(['a <- 07 1', 'b x 404 NotFoundError', 'c <- 07 2']);
  });

  it('takes a 409 as about the connection, even with requests pending', () => {
    const { queue, log, add } = setup();
    add('send', '07');
    const routed = queue.route(
      frame('09', { dst: ME, data: '409 session replaced by a newer one' }),
    );
    expect(routed.kind).toBe('connection-error');
    expect(routed.kind === 'connection-error' && routed.error).toBeInstanceOf(ReplacedError);
    expect(log).toEqual([]);
    expect(queue.size).toBe(1);
  });

  it("takes a 09 whose src is not the session's number as the server ending the session (503 shutdown)", () => {
    const { queue, log, add } = setup();
    add('send', '07');
    const routed = queue.route(
      frame('09', { src: NOBODY, dst: ME, data: '503 server shutting down' }),
    );
    expect(routed.kind).toBe('connection-error');
    expect(log).toEqual([]);
  });

  it('before the session is open (self is nobody), a 09 answers the pending request', () => {
    const { queue, log, add } = setup(NOBODY);
    add('open', '04');
    queue.route(frame('09', { src: ME, data: '401 unknown number or wrong token' }));
    add('register', '02');
    queue.route(frame('09', { data: '503 no free session handler' }));
    expect(log).toEqual(['open x 401 UnauthorizedError', 'register x 503 UnavailableError']);
  });

  it('takes a 09 with nothing pending as about the connection', () => {
    const { queue } = setup();
    expect(queue.route(frame('09', { src: ME, data: '400 bad ack' })).kind).toBe(
      'connection-error',
    );
  });

  it('reports an answer of the wrong code, or one nobody asked for, as unexpected', () => {
    const { queue, add, log } = setup();
    expect(queue.route(frame('07')).kind).toBe('unexpected');
    add('valid', '20');
    const routed = queue.route(frame('07'));
    expect(routed).toEqual({
      kind: 'unexpected',
      reason: 'the server answered 07 where 20 was expected',
    });
    expect(log).toEqual([]);
  });

  it('rejects everything pending, oldest first', () => {
    const { queue, add, log } = setup();
    add('a', '07');
    add('b', '03');
    const errors: ConnectionError[] = [];
    queue.rejectAll(() => {
      errors.push(new ConnectionError('gone'));
      return errors.at(-1)!;
    });
    expect(errors).toHaveLength(2); // one each: callers may add to them (storedIds)
    expect(log).toEqual(['a x 503 ConnectionError', 'b x 503 ConnectionError']);
    expect(queue.size).toBe(0);
  });
});
