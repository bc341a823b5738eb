import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { openSession, register } from '../helpers/wire-client.js';

describe('a message from one push session to another', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(async () => {
    await t.stop();
  });

  it('is stored (07), pushed (06), acknowledged (08) and answered with a recebida receipt', async () => {
    const alice = await register(t.port, 'alice');
    const bob = await register(t.port, 'bob');
    const a = await openSession(t.port, alice);
    const b = await openSession(t.port, bob);
    a.send({
      code: '05',
      src: alice.number,
      dst: bob.number,
      ts: 1_700_000_000,
      flag: true,
      data: 'oi bob',
    });
    const stored = await a.next();
    expect(stored).toMatchObject({
      code: '07',
      src: alice.number,
      dst: bob.number,
      ts: 1_700_000_000,
    });
    expect(stored.data).toMatch(/^[0-9]+$/);
    const delivered = await b.next();
    expect(delivered).toMatchObject({
      code: '06',
      src: alice.number,
      dst: bob.number,
      ts: 1_700_000_000,
      flag: true,
      data: 'oi bob',
    });
    b.send({ code: '08', src: bob.number, data: '1' });
    const receipt = await a.next();
    expect(receipt).toMatchObject({
      code: '06',
      src: bob.number,
      dst: alice.number,
      flag: false,
      data: 'recebida 1700000000',
    });
    a.destroy();
    b.destroy();
  });
});
