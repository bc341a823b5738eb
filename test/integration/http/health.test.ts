import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FaultInjection } from '../../../src/server/threads/thread-messages.js';
import { http } from '../../helpers/http.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { expectError, message, sendStored } from '../../helpers/v1.js';
import {
  type Identity,
  openSession,
  register,
  type WireClient,
} from '../../helpers/wire-client.js';

/**
 * /healthz is 503 while commits are failing (a full disk, an I/O error) and
 * 200 again after the next good commit (issue #9, item 7). The failure is
 * injected (test-only `setFaults({ failCommits: true })`: the broker's
 * transaction throws before COMMIT, as SQLITE_FULL would).
 */

let t: TestServer;
let alice: Identity;
let bob: Identity;
const clients: WireClient[] = [];

beforeAll(async () => {
  t = await startTestServer({ httpPort: 0 });
  alice = await register(t.port, 'alice');
  bob = await register(t.port, 'bob');
});
afterEach(() => {
  t.server.setFaults({});
  for (const c of clients.splice(0)) c.destroy();
});
afterAll(() => t.stop());

const healthz = () => http(t.server.httpAddress!.port, '/healthz');

/** setFaults is a control message: once the broker answers one posted after it, it has taken effect. */
async function setFaults(faults: FaultInjection): Promise<void> {
  t.server.setFaults(faults);
  await t.server.stats();
}

describe('/healthz and failing commits', () => {
  it('is 200 with every check ok, commits included, while commits succeed', async () => {
    const r = await healthz();
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ status: 'ok', checks: { store: 'ok', commits: 'ok', hosts: 'ok' } });
  });

  it('is 503 naming the commits while they fail, a 05 meanwhile gets 09 503, and both recover after the next good commit', async () => {
    // A poll session: a failed commit also ends every push session (their pushes may not have been sent).
    const sender = await openSession(t.port, alice, false);
    clients.push(sender);

    await setFaults({ failCommits: true });
    const refused = message(alice.number, bob.number, 'disk full', { ts: 1_700_000_001 });
    sender.send(refused);
    expectError(await sender.next(), 503, {
      src: alice.number,
      dst: bob.number,
      ts: 1_700_000_001,
    });
    const failing = await healthz();
    expect(failing.status).toBe(503);
    expect(failing.json.status).toBe('unavailable');
    expect(failing.json.checks.commits).toMatch(/^failing: .*\(injected fault failCommits\)/);

    await setFaults({});
    await sendStored(
      sender,
      message(alice.number, bob.number, 'disk has room again', { ts: 1_700_000_002 }),
    );
    const healthy = await healthz();
    expect(healthy.status).toBe(200);
    expect(healthy.json.checks).toEqual({ store: 'ok', commits: 'ok', hosts: 'ok' });
  });

  it('ZapwireServer.health() reports the same', async () => {
    const sender = await openSession(t.port, alice, false);
    clients.push(sender);
    await setFaults({ failCommits: true });
    sender.send(message(alice.number, bob.number, 'no room'));
    expectError(await sender.next(), 503);
    const health = await t.server.health();
    expect(health.ok).toBe(false);
    expect(health.checks.commits).toMatch(/^failing: /);
  });
});
