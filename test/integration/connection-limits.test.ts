/**
 * docs/protocol.md §Limits: connections are capped in total and per source
 * address, every listener together (v1, legacy, HTTP), refused with `503`
 * and closed, so a flood of idle sockets can never lock out existing
 * sessions or `/healthz`. Source addresses are picked from 127.0.0.0/8 (all
 * loopback on Linux), the server listening on 127.0.0.1.
 */
import { once } from 'node:events';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { answer, type HttpAnswer } from '../helpers/http.js';
import { captureLogs } from '../helpers/log-capture.js';
import {
  eventually,
  expectError,
  expectStillServed,
  message,
  receive,
  sendStored,
  T0,
  useServer,
} from '../helpers/v1.js';
import { WireClient } from '../helpers/wire-client.js';

const MAX_CONNECTIONS = 6;
const MAX_PER_ADDRESS = 3;

const logs = captureLogs('info');
const lines = logs.lines;

const env = useServer({
  maxConnections: MAX_CONNECTIONS,
  maxConnectionsPerAddress: MAX_PER_ADDRESS,
  httpPort: 0,
  legacyPort: 0,
  // Anonymous sockets stand for an idle flood here: the time limit is another test's.
  anonymousTimeoutMs: 0,
  logger: logs.logger,
});

const opened: { destroy(): void }[] = [];
afterEach(async () => {
  env.dropAll();
  for (const c of opened.splice(0)) c.destroy();
  // Every connection released before the next test counts again.
  await eventually(
    () =>
      env.t.server.flowStats().v1.connections === 0 &&
      env.t.server.flowStats().http!.connections === 0,
    3_000,
    'connections released',
  );
});

/** A v1 connection from `from`, kept for cleanup. */
async function v1From(from: string): Promise<WireClient> {
  const c = await WireClient.connect(env.port, '127.0.0.1', from);
  opened.push(c);
  return c;
}

/** A v1 connection from `from` that the server admitted: it answers a 19. */
async function admittedFrom(from: string, asker: string): Promise<WireClient> {
  const c = await v1From(from);
  await expectStillServed(c, asker);
  return c;
}

/** One HTTP GET from `from` on a connection of its own. */
function httpFrom(from: string, path: string): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: env.t.server.httpAddress!.port,
        localAddress: from,
        path,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve(answer(res.statusCode ?? 0, res.headers, Buffer.concat(chunks).toString('utf8'))),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** A legacy connection from `from`: what it got before the server closed it. */
async function legacyFrom(from: string, bytes: string): Promise<Buffer> {
  const socket: Socket = connect({
    host: '127.0.0.1',
    port: env.t.server.legacyAddress!.port,
    localAddress: from,
  });
  opened.push(socket);
  const got: Buffer[] = [];
  socket.on('data', (c: Buffer) => got.push(c));
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.write(bytes);
  await once(socket, 'close');
  return Buffer.concat(got);
}

function expectRefused(r: HttpAnswer, limit: string): void {
  expect(r.status, r.text).toBe(503);
  expect(r.headers.connection).toBe('close');
  expect(r.json.error).toMatchObject({ status: 503, code: 'ZAPWIRE_UNAVAILABLE' });
  expect(r.json.error.message).toContain(limit);
}

describe('docs/protocol.md §Limits: connections per source address (maxConnectionsPerAddress 3)', () => {
  it('refuses the 4th connection of one address with 09 503 and closes it, while other addresses, sessions and /healthz are served', async () => {
    const [alice] = await env.users(1);
    const flood = [];
    for (let i = 0; i < MAX_PER_ADDRESS; i++)
      flood.push(await admittedFrom('127.0.0.2', alice!.number));
    const refused = await v1From('127.0.0.2');
    expectError(await refused.next(), 503);
    expect(refused.frames.length).toBe(0);
    await refused.waitClosed();
    await eventually(
      () =>
        lines().some(
          (l) =>
            l.level === 40 &&
            l.msg ===
              'connection refused: too many connections from your address (maxConnectionsPerAddress)' &&
            l.address === '127.0.0.2',
        ),
      3_000,
      'the refusal logged at warn',
    );
    // Every listener counts against the same address budget.
    expectRefused(await httpFrom('127.0.0.2', '/healthz'), 'maxConnectionsPerAddress');
    expect(
      (await legacyFrom('127.0.0.2', '19' + alice!.number)).length,
      'a refused legacy connection is closed unanswered',
    ).toBe(0);
    // Another address is served: /healthz, and a v1 session.
    expect((await httpFrom('127.0.0.1', '/healthz')).status).toBe(200);
    const a = await env.session(alice!);
    await expectStillServed(a, alice!.number);
    // One of the address's connections closes: the address may open one again.
    flood[0]!.destroy();
    await eventually(
      () => env.t.server.flowStats().v1.connections === MAX_PER_ADDRESS,
      3_000,
      'the closed connection released',
    );
    await admittedFrom('127.0.0.2', alice!.number);
  });
});

describe('docs/protocol.md §Limits: connections in total (maxConnections 6)', () => {
  it('refuses the 7th connection with 09 503 (HTTP 503), existing sessions keep working, and closing some admits as many again', async () => {
    const [alice, bob] = await env.users(2);
    const a = await WireClient.connect(env.port, '127.0.0.1', '127.0.0.3');
    opened.push(a);
    a.send({ code: '04', src: alice!.number, flag: true, data: alice!.token });
    expect(await a.next()).toMatchObject({ code: '04', data: 'ok' });
    const b = await WireClient.connect(env.port, '127.0.0.1', '127.0.0.4');
    opened.push(b);
    b.send({ code: '04', src: bob!.number, flag: true, data: bob!.token });
    expect(await b.next()).toMatchObject({ code: '04', data: 'ok' });
    const idle = [];
    for (const from of ['127.0.0.3', '127.0.0.3', '127.0.0.4', '127.0.0.4'])
      idle.push(await admittedFrom(from, alice!.number));

    const refused = await v1From('127.0.0.5');
    const frame = await refused.next();
    expectError(frame, 503);
    expect(frame.data).toContain('maxConnections');
    await refused.waitClosed();
    expectRefused(await httpFrom('127.0.0.5', '/healthz'), 'maxConnections');

    // The sessions already open are served as before.
    await sendStored(a, message(alice!.number, bob!.number, 'still here', { ts: T0 }));
    expect((await receive(b, 1, { ackAs: bob!.number }))[0]).toMatchObject({ data: 'still here' });

    // Two leave: exactly two are admitted again (each socket released once), the next is refused.
    idle[0]!.destroy();
    idle[1]!.destroy();
    await eventually(
      () => env.t.server.flowStats().v1.connections === MAX_CONNECTIONS - 2,
      3_000,
      'two connections released',
    );
    await admittedFrom('127.0.0.5', alice!.number);
    await admittedFrom('127.0.0.5', alice!.number);
    const third = await v1From('127.0.0.5');
    expectError(await third.next(), 503);
    await third.waitClosed();
  });

  it('logs the open-file limit and maxConnections when it starts listening', () => {
    const listening = lines().find(
      (l) => typeof l.msg === 'string' && l.msg.startsWith('zapwire listening'),
    );
    expect(listening).toMatchObject({
      maxConnections: MAX_CONNECTIONS,
      maxConnectionsPerAddress: MAX_PER_ADDRESS,
      openFileLimit: expect.any(Number),
    });
  });
});
