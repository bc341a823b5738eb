/**
 * docs/protocol.md §Codes 05/06/07 and §Delivery guarantees: stored, delivered as
 * sent, at least once, in order per recipient; and the rate limit per
 * number (docs/protocol.md §Limits: 429).
 */
import { describe, expect, it } from 'vitest';
import { encodeFrame, NOBODY } from '../../../src/protocol/index.js';
import { http } from '../../helpers/http.js';
import {
  ack,
  expectError,
  expectStillServed,
  message,
  receive,
  roundTrip,
  sendStored,
  T0,
  take,
  unknownNumber,
  useServer,
} from '../../helpers/v1.js';
import type { WireClient } from '../../helpers/wire-client.js';

describe('docs/protocol.md §Delivery guarantees', () => {
  const env = useServer();

  describe('05 -> 07: stored', () => {
    it('answers 07 with the message id in decimal, echoing the src, dst and ts of the 05 (flag 0)', async () => {
      const [alice, bob] = await env.users(2);
      const a = await env.session(alice);
      a.send(message(alice.number, bob.number, 'oi', { ts: T0 + 42, flag: true }));
      const stored = await a.next();
      expect(stored).toMatchObject({
        code: '07',
        src: alice.number,
        dst: bob.number,
        ts: T0 + 42,
        flag: false,
      });
      expect(stored.data).toMatch(/^[1-9][0-9]*$/);
    });

    it('gives successive messages different, increasing ids', async () => {
      const [alice, bob] = await env.users(2);
      const a = await env.session(alice);
      const ids: number[] = [];
      for (let i = 0; i < 5; i++)
        ids.push(Number((await sendStored(a, message(alice.number, bob.number, `m${i}`))).data));
      for (let i = 1; i < ids.length; i++) expect(ids[i]!).toBeGreaterThan(ids[i - 1]!);
    });

    it('answers a message to an unknown destination with 09 404 echoing the 05, keeps the connection open, stores nothing', async () => {
      const alice = await env.user();
      const a = await env.session(alice);
      const nobody = unknownNumber();
      a.send(message(alice.number, nobody, 'anyone?', { ts: T0 + 5 }));
      expectError(await a.next(), 404, { src: alice.number, dst: nobody, ts: T0 + 5 });
      a.send(message(alice.number, NOBODY, 'the server?', { ts: T0 + 6 }));
      expectError(await a.next(), 404, { src: alice.number, dst: NOBODY, ts: T0 + 6 });
      await expectStillServed(a, alice.number);
    });
  });

  describe('06: delivered as the sender sent it', () => {
    it('carries src the sender, dst the recipient, the ts, the flag and the text, up to 217 bytes of multi-byte UTF-8', async () => {
      const [alice, bob] = await env.users(2);
      const a = await env.session(alice);
      const b = await env.session(bob);
      const longest = 'ção😀'.repeat(24) + 'x'; // 24 * 9 + 1 = 217 bytes
      expect(Buffer.byteLength(longest)).toBe(217);
      const texts = ['olá', longest, ''];
      for (const [i, text] of texts.entries()) {
        a.send(message(alice.number, bob.number, text, { ts: T0 + i, flag: i === 1 }));
      }
      await take(a, 3);
      const got = await receive(b, 3);
      expect(got).toEqual(
        texts.map((data, i) => ({
          code: '06',
          src: alice.number,
          dst: bob.number,
          ts: T0 + i,
          flag: i === 1,
          data,
        })),
      );
    });

    it('delivers messages sent to an offline user when that user connects', async () => {
      const [alice, bob] = await env.users(2);
      const a = await env.session(alice);
      await sendStored(a, message(alice.number, bob.number, 'while you were away'));
      a.destroy();
      const b = await env.session(bob);
      expect((await receive(b, 1))[0]).toMatchObject({
        src: alice.number,
        data: 'while you were away',
      });
    });
  });

  describe('at least once: a 06 not acknowledged when the connection ends is sent again', () => {
    it('sends a pushed, unacknowledged message again in the next push session', async () => {
      const [alice, bob] = await env.users(2);
      const a = await env.session(alice);
      const b1 = await env.session(bob);
      await sendStored(a, message(alice.number, bob.number, 'again', { ts: T0 + 9, flag: true }));
      const first = (await receive(b1, 1))[0]!;
      b1.destroy();
      const b2 = await env.session(bob);
      expect((await receive(b2, 1))[0]).toEqual(first);
    });

    it('sends a pushed, unacknowledged message again to a later poll', async () => {
      const [alice, bob] = await env.users(2);
      const a = await env.session(alice);
      const b1 = await env.session(bob);
      await sendStored(a, message(alice.number, bob.number, 'poll me'));
      await receive(b1, 1);
      b1.close();
      await b1.waitClosed();
      const p = await env.session(bob, false);
      p.send({ code: '03', src: bob.number });
      expect((await receive(p, 1))[0]!.data).toBe('poll me');
      expect(await p.next()).toMatchObject({ code: '03', data: '1' });
    });

    it('does not send an acknowledged message again', async () => {
      const [alice, bob] = await env.users(2);
      const a = await env.session(alice);
      const b1 = await env.session(bob);
      await sendStored(a, message(alice.number, bob.number, 'once'));
      await receive(b1, 1, { ackAs: bob.number });
      await expectStillServed(b1, bob.number);
      b1.destroy();
      const b2 = await env.session(bob);
      expect(await b2.silentFor(200)).toBe(true);
    });
  });

  describe('per recipient, messages are delivered in the order in which they were stored', () => {
    it('delivers 200 messages from one sender to a push session in order', async () => {
      const [alice, bob] = await env.users(2);
      const a = await env.session(alice);
      const b = await env.session(bob);
      a.sendRaw(
        Buffer.concat(
          Array.from({ length: 200 }, (_, i) =>
            encodeFrame(message(alice.number, bob.number, `#${i}`, { ts: T0 + i })),
          ),
        ),
      );
      const stored = await take(a, 200);
      expect(stored.every((f) => f.code === '07')).toBe(true);
      const got = await receive(b, 200, { ackAs: bob.number, every: 50 });
      expect(got.map((f) => f.data)).toEqual(Array.from({ length: 200 }, (_, i) => `#${i}`));
    });

    it('keeps the order across reconnects, resuming after the last acknowledged message', async () => {
      const [alice, bob] = await env.users(2);
      const a = await env.session(alice);
      const burst = (from: number, to: number) =>
        a.sendRaw(
          Buffer.concat(
            Array.from({ length: to - from }, (_, i) =>
              encodeFrame(message(alice.number, bob.number, `#${from + i}`)),
            ),
          ),
        );
      burst(0, 100);
      await take(a, 100);
      const b1 = await env.session(bob);
      const firstPart = await receive(b1, 40);
      expect(firstPart.map((f) => f.data)).toEqual(Array.from({ length: 40 }, (_, i) => `#${i}`));
      ack(b1, bob.number, 25);
      // Pushes beyond the 40 read keep coming; the 20 says the 08 was handled.
      await roundTrip(b1, bob.number);
      b1.destroy();
      burst(100, 200);
      await take(a, 100);
      const b2 = await env.session(bob);
      const rest = await receive(b2, 175, { ackAs: bob.number, every: 50 });
      expect(rest.map((f) => f.data)).toEqual(Array.from({ length: 175 }, (_, i) => `#${25 + i}`));
      expect(await b2.silentFor(100)).toBe(true);
    });

    it('delivers messages from several concurrent senders in the order of their 07 ids', async () => {
      const bob = await env.user();
      const senders = await env.users(3);
      const sessions = await Promise.all(senders.map((s) => env.session(s)));
      const b = await env.session(bob);
      for (const [k, s] of sessions.entries()) {
        s.sendRaw(
          Buffer.concat(
            Array.from({ length: 50 }, (_, i) =>
              encodeFrame(message(senders[k]!.number, bob.number, `s${k}-${i}`)),
            ),
          ),
        );
      }
      const idOf = new Map<string, number>();
      for (const [k, s] of sessions.entries()) {
        for (const [i, f] of (await take(s, 50)).entries()) idOf.set(`s${k}-${i}`, Number(f.data));
      }
      const got = await receive(b, 150, { ackAs: bob.number, every: 50 });
      const ids = got.map((f) => idOf.get(f.data)!);
      expect(ids).toEqual([...ids].sort((x, y) => x - y));
      // And each sender's own messages keep their order.
      for (let k = 0; k < 3; k++) {
        expect(got.filter((f) => f.src === senders[k]!.number).map((f) => f.data)).toEqual(
          Array.from({ length: 50 }, (_, i) => `s${k}-${i}`),
        );
      }
    });
  });
});

describe('docs/protocol.md §Limits: 429 when a number goes over its rate, across all its sessions and HTTP', () => {
  // rateLimit 5 per second, bursts of up to twice that.
  const env = useServer({ rateLimit: 5, httpPort: 0 });

  it('answers the 05 frames beyond the limit with 09 429 echoing each, stores only the others, and keeps the connection open', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice);
    const count = 30;
    a.sendRaw(
      Buffer.concat(
        Array.from({ length: count }, (_, i) =>
          encodeFrame(message(alice.number, bob.number, `burst ${i}`, { ts: T0 + i })),
        ),
      ),
    );
    const answers = await take(a, count);
    const stored = answers.filter((f) => f.code === '07');
    const refused = answers.filter((f) => f.code === '09');
    expect(stored.length + refused.length).toBe(count);
    expect(refused.length).toBeGreaterThan(0);
    expect(stored.length).toBeGreaterThanOrEqual(5);
    for (const f of refused) {
      expectError(f, 429, { src: alice.number, dst: bob.number, ts: f.ts });
      expect(f.data).toBe('429 sending too fast (rateLimit)');
    }
    // Every frame got exactly one answer, matched by its ts.
    expect(answers.map((f) => f.ts).sort((x, y) => x - y)).toEqual(
      Array.from({ length: count }, (_, i) => T0 + i),
    );
    expect(a.closed).toBe(false);

    // Only what got a 07 was stored.
    const b = await env.session(bob);
    const got = await receive(b, stored.length, { ackAs: bob.number });
    expect(got.map((f) => f.ts)).toEqual(stored.map((f) => f.ts));
    expect(await b.silentFor(100)).toBe(true);

    // The bucket refills (5 per second): after a pause the same session sends again.
    await new Promise((r) => setTimeout(r, 300));
    await sendStored(a, message(alice.number, bob.number, 'after the pause', { ts: T0 + 100 }));
  });

  it('gives all sessions of one number one budget, and HTTP spends it too', async () => {
    const [alice, bob] = await env.users(2);
    const sessions = [await env.session(alice, false), await env.session(alice, false)];
    // 8 frames on each of two sessions: one budget of 10 (and what refills
    // meanwhile) admits fewer than the 16 two budgets would.
    const burst = (c: WireClient, base: number) =>
      c.sendRaw(
        Buffer.concat(
          Array.from({ length: 8 }, (_, i) =>
            encodeFrame(message(alice.number, bob.number, `s${base + i}`, { ts: T0 + base + i })),
          ),
        ),
      );
    burst(sessions[0]!, 0);
    burst(sessions[1]!, 100);
    const answers = [...(await take(sessions[0]!, 8)), ...(await take(sessions[1]!, 8))];
    const stored = answers.filter((f) => f.code === '07');
    expect(stored.length).toBeGreaterThanOrEqual(10);
    expect(stored.length).toBeLessThan(16);
    for (const f of answers.filter((a) => a.code === '09'))
      expect(f.data).toBe('429 sending too fast (rateLimit)');
    const r = await http(env.t.server.httpAddress!.port, '/v1/messages', {
      auth: alice,
      body: { to: bob.number, text: 'over http' },
    });
    expect(r.status).toBe(429);
    expect(r.json.error.message).toBe('sending too fast (rateLimit)');
  });

  it('limits each number on its own: another sender is not refused', async () => {
    const [alice, carol, bob] = await env.users(3);
    const a = await env.session(alice);
    const c = await env.session(carol);
    a.sendRaw(
      Buffer.concat(
        Array.from({ length: 25 }, (_, i) =>
          encodeFrame(message(alice.number, bob.number, `a${i}`)),
        ),
      ),
    );
    expect((await take(a, 25)).some((f) => f.code === '09')).toBe(true);
    await sendStored(c, message(carol.number, bob.number, 'carol is fine'));
  });
});
