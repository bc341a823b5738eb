/**
 * DESIGN.md §Containment: an unexpected exception while handling one
 * session's frame, or while delivering to it, ends that session alone
 * (`09 503 internal error`, close, a line at error with the stack, the sid and
 * the number); the thread and the other sessions it hosts go on. The server
 * runs one session host thread, so every session here shares it, and uses
 * the test-only fault injection (StartOptions.faults) to make one frame or one
 * delivery throw.
 */
import { describe, expect, it } from 'vitest';
import { NOBODY } from '../../../src/protocol/index.js';
import { captureLogs } from '../../helpers/log-capture.js';
import {
  eventually,
  expectErrorAndClose,
  message,
  receive,
  sendStored,
  T0,
  useServer,
} from '../../helpers/v1.js';
import type { Identity, WireClient } from '../../helpers/wire-client.js';

const FRAME_FAULT = 'this frame makes its handler throw';
const DELIVERY_FAULT = 'this message makes its 06 encoder throw';

const logs = captureLogs('info');
const lines = logs.lines;

const env = useServer({
  threads: 1,
  faults: { frameData: FRAME_FAULT, deliveryData: DELIVERY_FAULT },
  logger: logs.logger,
});

/** Both ways between two sessions that must still be served: a 05 each, its 07, and the other's 06. */
async function stillServed(
  x: { who: Identity; c: WireClient },
  y: { who: Identity; c: WireClient },
  tag: string,
): Promise<void> {
  await sendStored(x.c, message(x.who.number, y.who.number, `${tag} x->y`, { ts: T0 }));
  expect((await receive(y.c, 1, { ackAs: y.who.number }))[0]).toMatchObject({
    src: x.who.number,
    data: `${tag} x->y`,
  });
  await sendStored(y.c, message(y.who.number, x.who.number, `${tag} y->x`, { ts: T0 }));
  expect((await receive(x.c, 1, { ackAs: x.who.number }))[0]).toMatchObject({
    src: y.who.number,
    data: `${tag} y->x`,
  });
}

/** The error line for the session of `number`, with its sid and the injected fault's stack. */
async function expectLogged(number: string): Promise<void> {
  const failed = () =>
    lines().find((l) => l.msg === 'session failed: internal error' && l.number === number);
  await eventually(() => failed() !== undefined, 3_000, `the failure of ${number} logged`);
  const line = failed()!;
  expect(line.level, 'logged at error').toBe(50);
  expect(line.sid).toEqual(expect.any(Number));
  expect(line.err?.stack).toMatch(/injected fault/);
  expect(
    lines().some((l) => l.msg === 'session host failed'),
    'the thread did not fail',
  ).toBe(false);
}

describe('DESIGN §Containment: a failure stays with the session that caused it', () => {
  it('a frame whose handler throws ends that session alone with 09 503; the others on its thread go on', async () => {
    const [alice, bob, carol] = await env.users(3);
    const a = await env.session(alice!);
    const b = await env.session(bob!);
    const c = await env.session(carol!);
    a.send(message(alice!.number, bob!.number, FRAME_FAULT, { ts: T0 }));
    const answer = await a.next();
    expect(answer).toMatchObject({ code: '09', data: '503 internal error' });
    await a.waitClosed();
    await stillServed({ who: bob!, c: b }, { who: carol!, c }, 'after a frame fault');
    await expectLogged(alice!.number);
  });

  it('an anonymous connection whose frame throws is ended alone, logged with the number nobody', async () => {
    const [bob, carol] = await env.users(2);
    const b = await env.session(bob!);
    const c = await env.session(carol!);
    const anonymous = await env.connect();
    anonymous.send({ code: '01', data: FRAME_FAULT });
    await expectErrorAndClose(anonymous, 503);
    await stillServed({ who: bob!, c: b }, { who: carol!, c }, 'after an anonymous fault');
    await expectLogged(NOBODY);
  });

  it("a push whose 06 cannot be encoded ends the recipient's session alone; the sender and the others go on", async () => {
    const [alice, bob, carol] = await env.users(3);
    const a = await env.session(alice!);
    const b = await env.session(bob!);
    const c = await env.session(carol!);
    await sendStored(a, message(alice!.number, bob!.number, DELIVERY_FAULT, { ts: T0 }));
    await expectErrorAndClose(b, 503);
    await stillServed({ who: alice!, c: a }, { who: carol!, c }, 'after a push fault');
    await expectLogged(bob!.number);
  });

  it('a poll answer whose 06 cannot be encoded ends that poll session alone', async () => {
    const [alice, dave, carol] = await env.users(3);
    const a = await env.session(alice!);
    const c = await env.session(carol!);
    await sendStored(a, message(alice!.number, dave!.number, DELIVERY_FAULT, { ts: T0 }));
    const d = await env.session(dave!, false);
    d.send({ code: '03', src: dave!.number });
    await expectErrorAndClose(d, 503);
    await stillServed({ who: alice!, c: a }, { who: carol!, c }, 'after a poll fault');
    await expectLogged(dave!.number);
  });
});
