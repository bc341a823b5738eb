/**
 * docs/protocol.md §Frame, issue #9 item 3: every path into the store takes only
 * text a `06` can carry (well-formed Unicode, no 0x00), and refuses anything
 * else with 400 before anything is stored.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BrokerHarness, send } from './broker-harness.js';

const BAD_TEXTS = [
  { name: 'a lone high surrogate', text: 'x\ud800y' },
  { name: 'a lone low surrogate', text: '\udc00' },
  { name: 'surrogates in the wrong order', text: '\udc00\ud800' },
  { name: 'a NUL', text: 'a\0b' },
];

describe('Broker: only well-formed text is stored', () => {
  let h: BrokerHarness;
  afterEach(() => h.close());

  it.each(BAD_TEXTS)(
    'refuses a 05 whose text has $name with 400, storing nothing',
    async ({ text }) => {
      h = new BrokerHarness();
      const alice = await h.user();
      const bob = await h.user();
      expect((await h.run(send(alice.number, bob.number, text)))[0]).toMatchObject({
        ok: false,
        status: 400,
      });
      expect(h.store.countPending(bob.number)).toBe(0);
      // Well-formed text of every plane is stored unchanged.
      const fine = 'olá 語 😀 \u{10FFFF} \uFEFF';
      expect((await h.run(send(alice.number, bob.number, fine)))[0]!.ok).toBe(true);
      expect(h.store.pendingFor(bob.number, 0, 1)[0]!.body).toBe(fine);
    },
  );

  it.each(BAD_TEXTS)(
    'refuses an HTTP send with $name in any of its texts with 400, storing none of them',
    async ({ text }) => {
      h = new BrokerHarness();
      const alice = await h.user();
      const bob = await h.user();
      const [reply] = await h.run({
        op: 'authSend',
        number: alice.number,
        token: alice.token,
        dst: bob.number,
        ts: 1,
        flag: false,
        texts: ['fine', text],
        remote: '192.0.2.1',
      });
      expect(reply).toMatchObject({ ok: false, status: 400 });
      expect(h.store.countPending(bob.number)).toBe(0);
    },
  );

  it('refuses a display name that is not well-formed with 400, registering nobody', async () => {
    h = new BrokerHarness();
    expect(
      (await h.run({ op: 'register', name: 'bad\ud800', remote: '192.0.2.1' }))[0],
    ).toMatchObject({
      ok: false,
      status: 400,
    });
  });

  it('stores a legacy 05 only when its text is well-formed, and logs the refusal', async () => {
    h = new BrokerHarness();
    const alice = await h.user();
    const bob = await h.user();
    await h.run({ op: 'legacySend', src: alice.number, dst: bob.number, ts: 1, text: 'x\udfffy' });
    expect(h.store.countPending(bob.number)).toBe(0);
    expect(h.logs.some((line) => line.level === 40 && line.msg === 'legacy request refused')).toBe(
      true,
    );
  });
});
