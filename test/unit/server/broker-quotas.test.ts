/**
 * docs/protocol.md §Limits at the broker, where no network stands in the way: the
 * per-address limits key an IPv6 client by its /64, the legacy listener's
 * registrations are limited like the others, and an exhausted address is
 * refused before its token is looked at.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { NO_QUOTAS } from '../../../src/server/broker/limits.js';
import { BrokerHarness } from './broker-harness.js';

const OFF = NO_QUOTAS;

describe('Broker: per-address limits', () => {
  let h: BrokerHarness;
  afterEach(() => h.close());

  it('limits legacy registrations like the others, and logs the refusal', async () => {
    h = new BrokerHarness({ quotas: { ...OFF, registerRate: 1, registerBurst: 2 } });
    const replies = await h.run(
      { op: 'legacyRegister', remote: '192.0.2.5' },
      { op: 'register', name: '', remote: '192.0.2.5' },
      { op: 'legacyRegister', remote: '192.0.2.5' },
    );
    expect(replies.map((r) => (r.ok ? 'ok' : `${r.status} ${r.reason}`))).toEqual([
      'ok',
      'ok',
      '429 registering too fast (registerRate)',
    ]);
    expect(
      h.logs.filter((line) => line.level === 40 && line.limit === 'registerRate'),
    ).toHaveLength(1);
    // Another address is not affected.
    expect((await h.run({ op: 'legacyRegister', remote: '192.0.2.6' }))[0]!.ok).toBe(true);
  });

  it('counts every address of one IPv6 /64 as one, and an IPv4-mapped address as its IPv4 one', async () => {
    h = new BrokerHarness({ quotas: { ...OFF, registerRate: 1, registerBurst: 2 } });
    const replies = await h.run(
      { op: 'register', name: '', remote: '2001:db8:0:1::1' },
      { op: 'register', name: '', remote: '2001:db8:0:1:ffff::2' },
      { op: 'register', name: '', remote: '2001:db8:0:1:abcd::3' },
      { op: 'register', name: '', remote: '2001:db8:0:2::1' },
      { op: 'register', name: '', remote: '198.51.100.1' },
      { op: 'register', name: '', remote: '::ffff:198.51.100.1' },
      { op: 'register', name: '', remote: '198.51.100.1' },
    );
    expect(replies.map((r) => r.ok)).toEqual([true, true, false, true, true, true, false]);
  });

  it('refuses an exhausted address without checking the token, so the right token is refused too', async () => {
    h = new BrokerHarness({ quotas: { ...OFF, authFailuresPerMinute: 2 } });
    const alice = await h.user();
    const wrong = {
      op: 'open',
      sid: 1,
      number: alice.number,
      token: 'wrong',
      push: false,
      remote: '192.0.2.7',
    } as const;
    const right = { ...wrong, sid: 2, token: alice.token };
    const replies = await h.run(wrong, wrong, right, { ...right, remote: '192.0.2.8' });
    expect(replies.map((r) => (r.ok ? 'ok' : `${r.status}`))).toEqual(['401', '401', '429', 'ok']);
  });
});

describe('Broker: the pending quota follows acknowledgements', () => {
  let h: BrokerHarness;
  afterEach(() => h.close());

  it('makes room as the recipient acknowledges, without reading the count again', async () => {
    h = new BrokerHarness({ quotas: { ...OFF, maxPendingPerRecipient: 2 } });
    const alice = await h.user();
    const bob = await h.user();
    const send = (text: string) =>
      ({ op: 'send', src: alice.number, dst: bob.number, ts: 1, flag: false, text }) as const;
    expect((await h.run(send('a'), send('b'), send('c'))).map((r) => r.ok)).toEqual([
      true,
      true,
      false,
    ]);
    // Bob's session polls the oldest and acknowledges it.
    const bobSid = 9;
    await h.run({
      op: 'open',
      sid: bobSid,
      number: bob.number,
      token: bob.token,
      push: false,
      remote: '192.0.2.9',
    });
    h.broker.enqueue(1, [
      {
        op: 'poll',
        rid: 9_999,
        to: { sid: bobSid, slot: 1, src: bob.number, dst: bob.number, ts: 0 },
        number: bob.number,
        limit: 1,
      },
    ]);
    await h.flush();
    h.broker.enqueue(1, [
      {
        op: 'ack',
        sid: bobSid,
        number: bob.number,
        count: 1,
        src: bob.number,
        dst: bob.number,
        ts: 0,
        after: 2,
      },
    ]);
    await h.flush();
    expect((await h.run(send('d'), send('e'))).map((r) => r.ok)).toEqual([true, false]);
  });
});
