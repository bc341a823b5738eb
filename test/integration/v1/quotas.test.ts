/**
 * docs/protocol.md §Limits, the quotas the broker enforces centrally: per number
 * (`05` rows and `10`, across all its sessions and the HTTP API), per
 * recipient (pending rows, all or nothing for a group), per source address
 * (registrations, failed authentications). Each refusal is a `429` whose
 * reason names the option. Small option values keep the tests quick; every
 * client here comes from 127.0.0.1, so the per-address limits get servers of
 * their own.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame } from '../../../src/protocol/index.js';
import { type HttpAnswer, http } from '../../helpers/http.js';
import { captureLogs } from '../../helpers/log-capture.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import {
  ack,
  expectError,
  message,
  receive,
  roundTrip,
  sendStored,
  T0,
  take,
  useServer,
} from '../../helpers/v1.js';
import { type Identity, WireClient } from '../../helpers/wire-client.js';

function expectHttp429(r: HttpAnswer, limit: string): void {
  expect(r.status, r.text).toBe(429);
  expect(r.json.error.message).toContain(`(${limit})`);
}

function frames(...inits: Parameters<typeof encodeFrame>[0][]): Buffer {
  return Buffer.concat(inits.map((init) => encodeFrame(init)));
}

// Two sessions of one number share one budget, and HTTP spends it too: test/integration/v1/delivery.test.ts.
describe('docs/protocol.md §Limits: 05 is limited per number, a group message once per row (rateLimit)', () => {
  // 3 rows a second, bursts of 6.
  const env = useServer({ rateLimit: 3 });

  it('counts a group message once per row it stores', async () => {
    const [alice, bob, carol, dave] = await env.users(4);
    const a = await env.session(alice);
    a.send({
      code: '10',
      src: alice.number,
      ts: T0,
      data: bob.number + carol.number + dave.number,
    });
    const group = (await a.next()).dst;
    // Three rows each: two fit in the burst of 6, the third does not.
    await sendStored(a, message(alice.number, group, 'one'));
    await sendStored(a, message(alice.number, group, 'two'));
    a.send(message(alice.number, group, 'three'));
    expect((await a.next()).data).toBe('429 sending too fast (rateLimit)');
    // Nothing of the refused one was stored for anyone.
    const d = await env.session(dave);
    const got = await receive(d, 3, { ackAs: dave.number });
    expect(got.map((f) => f.data)).toEqual(['grupo criado', 'one', 'two']);
    expect(await d.silentFor(100)).toBe(true);
  });

  it('refills at the rate: after a pause the same number sends again', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice, false);
    a.sendRaw(
      frames(...Array.from({ length: 8 }, (_, i) => message(alice.number, bob.number, `m${i}`))),
    );
    expect((await take(a, 8)).some((f) => f.code === '09')).toBe(true);
    await new Promise((r) => setTimeout(r, 700));
    await sendStored(a, message(alice.number, bob.number, 'after the pause'));
  });

  it('does not charge receipts the server makes', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice);
    const b = await env.session(bob);
    // Bob's budget is spent on six messages asking for receipts...
    for (let i = 0; i < 6; i++)
      await sendStored(b, message(bob.number, alice.number, `r${i}`, { ts: T0 + i, flag: true }));
    await receive(a, 6, { ackAs: alice.number });
    // ...and alice's acks make six `recebida` from alice to bob: her own 05 budget is untouched.
    expect(
      (await receive(b, 6, { ackAs: bob.number })).every((f) => f.data.startsWith('recebida ')),
    ).toBe(true);
    // Her whole burst of 6, and not one more.
    a.sendRaw(
      frames(...Array.from({ length: 7 }, (_, i) => message(alice.number, bob.number, `x${i}`))),
    );
    expect((await take(a, 7)).map((f) => f.code)).toEqual([...Array<string>(6).fill('07'), '09']);
  });
});

describe('docs/protocol.md §Limits: 10 is limited per number (groupRateLimit)', () => {
  // 1 a second, bursts of 2.
  const env = useServer({ groupRateLimit: 1 });

  it('refuses the third 10 of a burst with 429 naming groupRateLimit, creating nothing', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice, false);
    a.sendRaw(
      frames(
        ...Array.from({ length: 3 }, (_, i) => ({
          code: '10' as const,
          src: alice.number,
          ts: T0 + i,
          data: bob.number,
        })),
      ),
    );
    const answers = await take(a, 3);
    expect(answers.map((f) => f.code)).toEqual(['11', '11', '09']);
    expectError(answers[2]!, 429, { src: alice.number, ts: T0 + 2 });
    expect(answers[2]!.data).toBe('429 creating groups too fast (groupRateLimit)');
    // Bob was told of two groups only.
    const b = await env.session(bob);
    expect((await receive(b, 2, { ackAs: bob.number })).map((f) => f.dst)).toEqual([
      answers[0]!.dst,
      answers[1]!.dst,
    ]);
    expect(await b.silentFor(100)).toBe(true);
  });

  it('limits each number on its own', async () => {
    const [alice, carol, bob] = await env.users(3);
    const a = await env.session(alice, false);
    a.sendRaw(
      frames(
        ...Array.from({ length: 3 }, (_, i) => ({
          code: '10' as const,
          src: alice.number,
          ts: T0 + i,
          data: bob.number,
        })),
      ),
    );
    expect((await take(a, 3)).map((f) => f.code)).toContain('09');
    const c = await env.session(carol, false);
    c.send({ code: '10', src: carol.number, ts: T0, data: bob.number });
    expect((await c.next()).code).toBe('11');
  });
});

describe('docs/protocol.md §Limits: pending rows per recipient are capped (maxPendingPerRecipient)', () => {
  const env = useServer({ maxPendingPerRecipient: 3, httpPort: 0 });

  it('refuses a 05 to a full recipient with 429 and stores nothing, until the recipient acknowledges', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice, false);
    for (let i = 0; i < 3; i++)
      await sendStored(a, message(alice.number, bob.number, `m${i}`, { ts: T0 + i }));
    a.send(message(alice.number, bob.number, 'one too many', { ts: T0 + 3 }));
    const refused = await a.next();
    expectError(refused, 429, { src: alice.number, dst: bob.number, ts: T0 + 3 });
    expect(refused.data).toBe(
      `429 too many pending messages for ${bob.number} (maxPendingPerRecipient)`,
    );
    // HTTP is refused the same way.
    expectHttp429(
      await http(env.t.server.httpAddress!.port, '/v1/messages', {
        auth: alice,
        body: { to: bob.number, text: 'http' },
      }),
      'maxPendingPerRecipient',
    );

    const b = await env.session(bob);
    expect((await receive(b, 3, { ackAs: bob.number })).map((f) => f.data)).toEqual([
      'm0',
      'm1',
      'm2',
    ]);
    expect(await b.silentFor(100)).toBe(true);
    await roundTrip(b, bob.number);
    // Acknowledged rows are gone: there is room again.
    await sendStored(a, message(alice.number, bob.number, 'room again', { ts: T0 + 4 }));
  });

  it('refuses a group message whole when any member is full: no member gets it', async () => {
    const [alice, bob, carol, dave] = await env.users(4);
    const a = await env.session(alice, false);
    a.send({ code: '10', src: alice.number, ts: T0, data: bob.number + carol.number });
    const group = (await a.next()).dst;
    // carol has the group notice and two messages from dave: full.
    const d = await env.session(dave, false);
    for (let i = 0; i < 2; i++) await sendStored(d, message(dave.number, carol.number, `d${i}`));
    a.send(message(alice.number, group, 'to everyone', { ts: T0 + 1 }));
    const refused = await a.next();
    expectError(refused, 429, { src: alice.number, dst: group, ts: T0 + 1 });
    expect(refused.data).toBe(
      `429 too many pending messages for ${carol.number} (maxPendingPerRecipient)`,
    );
    // bob, who had room, got nothing either.
    const b = await env.session(bob);
    expect((await receive(b, 1, { ackAs: bob.number })).map((f) => f.data)).toEqual([
      'grupo criado',
    ]);
    expect(await b.silentFor(150)).toBe(true);
  });

  it('never refuses the receipts the server makes, but counts them', async () => {
    const [alice, bob, carol] = await env.users(3);
    // alice is full: three messages from carol.
    const c = await env.session(carol, false);
    for (let i = 0; i < 3; i++) await sendStored(c, message(carol.number, alice.number, `c${i}`));
    // Bob's message to alice is refused, but her message to bob asked for a receipt...
    const b = await env.session(bob);
    b.send(message(bob.number, alice.number, 'refused'));
    expectError(await b.next(), 429);
    const a = await env.session(alice);
    const got = await receive(a, 3);
    await sendStored(
      a,
      message(alice.number, bob.number, 'receipt please', { ts: T0 + 9, flag: true }),
    );
    expect((await receive(b, 1))[0]!.data).toBe('receipt please');
    // ...bob's ack makes it though alice is still full (she has not acked).
    ack(b, bob.number, 1);
    const receipt = await a.next();
    expect(receipt).toMatchObject({
      code: '06',
      src: bob.number,
      dst: alice.number,
      data: `recebida ${String(T0 + 9)}`,
    });
    expect(got).toHaveLength(3);
    // And it is counted: alice acks carol's three, and has room for exactly three (the receipt holds one).
    ack(a, alice.number, 3);
    await roundTrip(a, alice.number);
    for (let i = 0; i < 2; i++)
      await sendStored(c, message(carol.number, alice.number, `again${i}`));
    c.send(message(carol.number, alice.number, 'over'));
    expectError(await c.next(), 429);
  });
});

describe('docs/protocol.md §Limits: registrations are limited per source address (registerRate, registerBurst)', () => {
  const sink = captureLogs('warn');
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({
      httpPort: 0,
      registerRate: 1,
      registerBurst: 3,
      logger: sink.logger,
    });
  });
  afterAll(() => t.stop());

  it('refuses registrations past the burst with 429 naming registerRate, over v1 and HTTP alike, and logs it once', async () => {
    const answers = [];
    for (let i = 0; i < 3; i++) {
      const c = await WireClient.connect(t.port);
      c.send({ code: '01', data: `u${i}` });
      answers.push(await c.next());
      c.destroy();
    }
    expect(answers.map((f) => f.code)).toEqual(['02', '02', '02']);
    const c = await WireClient.connect(t.port);
    c.send({ code: '01', data: 'one too many' });
    const refused = await c.next();
    expectError(refused, 429);
    expect(refused.data).toBe('429 registering too fast (registerRate)');
    // The connection stays open (429 does not close).
    c.send({ code: '19', dst: answers[0]!.dst });
    expect((await c.next()).code).toBe('20');
    c.destroy();
    expectHttp429(
      await http(t.server.httpAddress!.port, '/v1/users', { method: 'POST' }),
      'registerRate',
    );
    expectHttp429(
      await http(t.server.httpAddress!.port, '/v1/users', { method: 'POST' }),
      'registerRate',
    );
    const warns = sink.lines().filter((line) => line.level === 40 && line.limit === 'registerRate');
    expect(warns).toHaveLength(1);
  });
});

describe('docs/protocol.md §Limits: failed authentications are limited per source address (authFailuresPerMinute)', () => {
  let t: TestServer | undefined;
  afterEach(async () => {
    await t?.stop();
    t = undefined;
  });

  async function open(port: number, who: Identity): Promise<string> {
    const c = await WireClient.connect(port);
    c.send({ code: '04', src: who.number, flag: true, data: who.token });
    const answer = await c.next();
    c.destroy();
    // `ok`, or the 09's status and reason.
    return answer.data;
  }

  it('refuses every attempt from the address once its failures are used up, the right token too, and logs one warning', async () => {
    const sink = captureLogs('warn');
    t = await startTestServer({ authFailuresPerMinute: 3, logger: sink.logger });
    const alice = await registerV1(t.port);
    const wrong = { number: alice.number, token: 'not-the-token' };
    for (let i = 0; i < 3; i++) expect(await open(t.port, wrong)).toMatch(/^401 /);
    // Used up: refused without the token being checked.
    expect(await open(t.port, wrong)).toBe(
      '429 too many failed authentications (authFailuresPerMinute)',
    );
    expect(await open(t.port, alice)).toBe(
      '429 too many failed authentications (authFailuresPerMinute)',
    );
    expect(await open(t.port, alice)).toBe(
      '429 too many failed authentications (authFailuresPerMinute)',
    );
    const warns = sink
      .lines()
      .filter((line) => line.level === 40 && line.limit === 'authFailuresPerMinute');
    expect(warns).toHaveLength(1);
  });

  it('counts wrong HTTP tokens with wrong 04s, and refuses HTTP too', async () => {
    t = await startTestServer({ authFailuresPerMinute: 3, httpPort: 0 });
    const httpPort = t.server.httpAddress!.port;
    const alice = await registerV1(t.port);
    const bob = await registerV1(t.port);
    const wrong = { number: alice.number, token: 'not-the-token' };
    expect(await open(t.port, wrong)).toMatch(/^401 /);
    expect(
      (await http(httpPort, '/v1/messages', { auth: wrong, body: { to: bob.number, text: 'x' } }))
        .status,
    ).toBe(401);
    expect(
      (await http(httpPort, '/v1/messages', { auth: wrong, body: { to: bob.number, text: 'x' } }))
        .status,
    ).toBe(401);
    expectHttp429(
      await http(httpPort, '/v1/messages', { auth: alice, body: { to: bob.number, text: 'x' } }),
      'authFailuresPerMinute',
    );
    expect(await open(t.port, alice)).toBe(
      '429 too many failed authentications (authFailuresPerMinute)',
    );
  });

  it('does not count good authentications', async () => {
    t = await startTestServer({ authFailuresPerMinute: 2 });
    const alice = await registerV1(t.port);
    for (let i = 0; i < 6; i++) expect(await open(t.port, alice)).toBe('ok');
    // The two failures are all still there to be used, and no more.
    const wrong = { number: alice.number, token: 'not-the-token' };
    for (let i = 0; i < 2; i++) expect(await open(t.port, wrong)).toMatch(/^401 /);
    expect(await open(t.port, wrong)).toMatch(/^429 /);
  });
});

describe("HTTP API: the sender's rate is charged only after its token checked out", () => {
  let t: TestServer;
  beforeAll(async () => {
    // Failed authentications are not limited here, so that the flood is answered 401 throughout.
    t = await startTestServer({ httpPort: 0, rateLimit: 2, authFailuresPerMinute: 0 });
  });
  afterAll(() => t.stop());

  it('lets a victim send its burst however many wrong-token requests name it', async () => {
    const httpPort = t.server.httpAddress!.port;
    const victim = (await http(httpPort, '/v1/users', { method: 'POST' })).json as Identity;
    const bob = (await http(httpPort, '/v1/users', { method: 'POST' })).json as Identity;
    const flood = await Promise.all(
      Array.from({ length: 20 }, () =>
        http(httpPort, '/v1/messages', {
          auth: { number: victim.number, token: 'forged' },
          body: { to: bob.number, text: 'spam' },
        }),
      ),
    );
    expect(flood.every((r) => r.status === 401)).toBe(true);
    // The burst (2 x 2) is intact.
    const statuses = [];
    for (let i = 0; i < 4; i++)
      statuses.push(
        (
          await http(httpPort, '/v1/messages', {
            auth: victim,
            body: { to: bob.number, text: `mine ${i}` },
          })
        ).status,
      );
    expect(statuses).toEqual([201, 201, 201, 201]);
  });
});

async function registerV1(port: number): Promise<Identity> {
  const c = await WireClient.connect(port);
  c.send({ code: '01' });
  const answer = await c.next();
  c.destroy();
  return { number: answer.dst, token: answer.data };
}
