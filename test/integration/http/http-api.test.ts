/**
 * README §HTTP API, end to end: every endpoint and every status, against a
 * real server with `httpPort: 0`; a message sent over HTTP reaches a push
 * session at once, exactly as a `05` would.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OptionError } from '../../../src/errors.js';
import { resolveServerOptions } from '../../../src/server/config.js';
import { MAX_BODY_BYTES } from '../../../src/server/main-thread/http-listener.js';
import { answer, type HttpAnswer, http } from '../../helpers/http.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { message, receive, sendStored, T0, unknownNumber, useServer } from '../../helpers/v1.js';
import { type Identity, openSession } from '../../helpers/wire-client.js';

const env = useServer({ httpPort: 0 });
const port = () => env.t.server.httpAddress!.port;

async function registerHttp(name?: string): Promise<Identity> {
  const r = await http(port(), '/v1/users', { body: name === undefined ? '' : { name } });
  expect(r.status).toBe(201);
  return r.json as Identity;
}

function expectError(r: HttpAnswer, status: number, code?: string): void {
  expect(r.status, r.text).toBe(status);
  expect(r.json.error.status).toBe(status);
  if (code) expect(r.json.error.code).toBe(code);
  expect(typeof r.json.error.message).toBe('string');
}

describe('HTTP API', () => {
  it('httpPort is checked like the other ports', () => {
    expect(resolveServerOptions({}).httpPort).toBeUndefined();
    expect(resolveServerOptions({ httpPort: 0 }).httpPort).toBe(0);
    expect(() => resolveServerOptions({ httpPort: 70_000 })).toThrow(OptionError);
    expect(() => resolveServerOptions({ httpPort: 1.5 })).toThrow(
      /^httpPort must be an integer from 0 to 65535/,
    );
  });

  it('is off unless a port is given', async () => {
    const t = await startTestServer();
    try {
      expect(t.server.httpAddress).toBeUndefined();
    } finally {
      await t.stop();
    }
  });

  describe('POST /v1/users', () => {
    it('registers a user (201 number and token) who can open a TCP session', async () => {
      const user = await registerHttp('Ana');
      expect(user.number).toMatch(/^[0-9]{13}$/);
      expect(typeof user.token).toBe('string');
      await env.session(user);
    });

    it('takes an empty body', async () => {
      const r = await http(port(), '/v1/users', { method: 'POST' });
      expect(r.status).toBe(201);
      expect(r.json.number).toMatch(/^[0-9]{13}$/);
    });

    it('400 for a name that is not a string, 413 for a name too long', async () => {
      expectError(
        await http(port(), '/v1/users', { body: { name: 5 } }),
        400,
        'ZAPWIRE_MALFORMED_REQUEST',
      );
      expectError(await http(port(), '/v1/users', { body: { name: 'x'.repeat(10_000) } }), 413);
    });
  });

  describe('GET /v1/numbers/<n>', () => {
    it('says whether a number is valid, like 19', async () => {
      const user = await registerHttp();
      expect((await http(port(), `/v1/numbers/${user.number}`)).json).toEqual({
        number: user.number,
        valid: true,
      });
      const other = unknownNumber();
      const r = await http(port(), `/v1/numbers/${other}`);
      expect(r.status).toBe(200);
      expect(r.json).toEqual({ number: other, valid: false });
    });

    it('400 for something that is not 13 digits', async () => {
      expectError(await http(port(), '/v1/numbers/123'), 400);
    });
  });

  describe('POST /v1/messages', () => {
    it('201 with the id after the commit; the message is pushed at once with the fields a 05 gives', async () => {
      const [alice, bob] = await env.users(2);
      const b = await env.session(bob);
      const r = await http(port(), '/v1/messages', {
        auth: alice,
        body: { to: bob.number, text: 'olá over HTTP', receipts: true },
      });
      expect(r.status, r.text).toBe(201);
      expect(r.json.id).toBeGreaterThan(0);
      expect(r.json.ids).toEqual([r.json.id]);
      const [viaHttp] = await receive(b, 1, { ackAs: bob.number });
      // The same message sent as a TCP 05, for comparison.
      const a = await env.session(alice, false);
      await sendStored(
        a,
        message(alice.number, bob.number, 'olá over HTTP', { ts: viaHttp!.ts, flag: true }),
      );
      const [viaTcp] = await receive(b, 1, { ackAs: bob.number, base: 1 });
      expect(viaHttp).toEqual(viaTcp);
      expect(viaHttp).toMatchObject({
        code: '06',
        src: alice.number,
        dst: bob.number,
        flag: true,
        data: 'olá over HTTP',
      });
      expect(Math.abs(viaHttp!.ts - Date.now() / 1000)).toBeLessThan(5);
    });

    it('receipts default to true and can be turned off', async () => {
      const [alice, bob] = await env.users(2);
      const b = await env.session(bob);
      expect(
        (await http(port(), '/v1/messages', { auth: alice, body: { to: bob.number, text: 'a' } }))
          .status,
      ).toBe(201);
      expect(
        (
          await http(port(), '/v1/messages', {
            auth: alice,
            body: { to: bob.number, text: 'b', receipts: false },
          })
        ).status,
      ).toBe(201);
      const frames = await receive(b, 2, { ackAs: bob.number });
      expect(frames.map((f) => [f.data, f.flag])).toEqual([
        ['a', true],
        ['b', false],
      ]);
    });

    it('splits a text over 217 bytes as the SDK does: ordered parts, one id each', async () => {
      const [alice, bob] = await env.users(2);
      const b = await env.session(bob);
      const text = Array.from({ length: 600 }, (_, i) => String.fromCharCode(97 + (i % 26))).join(
        '',
      );
      const r = await http(port(), '/v1/messages', { auth: alice, body: { to: bob.number, text } });
      expect(r.status).toBe(201);
      expect(r.json.ids).toHaveLength(3);
      expect(r.json.id).toBe(r.json.ids[0]);
      const parts = await receive(b, 3, { ackAs: bob.number });
      expect(parts.map((p) => Buffer.byteLength(p.data))).toEqual([217, 217, 166]);
      expect(parts.map((p) => p.data).join('')).toBe(text);
    });

    it('sends to a group its sender is a member of; 403 for a non-member', async () => {
      const [alice, bob, carol] = await env.users(3);
      const a = await env.session(alice, false);
      a.send({ code: '10', src: alice.number, ts: T0, data: bob.number });
      const created = await a.next();
      expect(created.code).toBe('11');
      const group = created.dst;
      expect(
        (
          await http(port(), '/v1/messages', {
            auth: bob,
            body: { to: group, text: 'to the group' },
          })
        ).status,
      ).toBe(201);
      expectError(
        await http(port(), '/v1/messages', { auth: carol, body: { to: group, text: 'let me in' } }),
        403,
        'ZAPWIRE_FORBIDDEN',
      );
    });

    it('404 for an unknown destination', async () => {
      const alice = await env.user();
      expectError(
        await http(port(), '/v1/messages', {
          auth: alice,
          body: { to: unknownNumber(), text: 'anyone?' },
        }),
        404,
        'ZAPWIRE_NOT_FOUND',
      );
    });

    it('401 without credentials, with malformed ones, or with a wrong token', async () => {
      const [alice, bob] = await env.users(2);
      const body = { to: bob.number, text: 'x' };
      expectError(await http(port(), '/v1/messages', { body }), 401);
      expectError(
        await http(port(), '/v1/messages', {
          body,
          headers: { authorization: `Basic ${alice.number}` },
        }),
        401,
      );
      expectError(
        await http(port(), '/v1/messages', {
          body,
          headers: { authorization: `Bearer ${alice.token}` },
        }),
        401,
      );
      expectError(
        await http(port(), '/v1/messages', {
          body,
          auth: { number: alice.number, token: 'wrong' },
        }),
        401,
        'ZAPWIRE_UNAUTHORIZED',
      );
    });

    it('400 for malformed JSON (with the reason) and for bad fields', async () => {
      const [alice, bob] = await env.users(2);
      const bad = await http(port(), '/v1/messages', { auth: alice, body: '{"to": ' });
      expectError(bad, 400, 'ZAPWIRE_BAD_JSON');
      expect(bad.json.error.message).toMatch(/^malformed JSON: /);
      expectError(
        await http(port(), '/v1/messages', { auth: alice, body: '[1]' }),
        400,
        'ZAPWIRE_BAD_JSON',
      );
      expectError(
        await http(port(), '/v1/messages', { auth: alice, body: { to: '123', text: 'x' } }),
        400,
        'ZAPWIRE_MALFORMED_REQUEST',
      );
      expectError(
        await http(port(), '/v1/messages', { auth: alice, body: { to: bob.number } }),
        400,
        'ZAPWIRE_MALFORMED_REQUEST',
      );
      expectError(
        await http(port(), '/v1/messages', { auth: alice, body: { to: bob.number, text: 'a\0b' } }),
        400,
      );
      expectError(
        await http(port(), '/v1/messages', {
          auth: alice,
          body: { to: bob.number, text: 'x', receipts: 'yes' },
        }),
        400,
      );
    });

    it("400 for text that is not well-formed Unicode (a lone surrogate), storing nothing; the recipient's session is unharmed", async () => {
      const [alice, bob] = await env.users(2);
      const b = await env.session(bob);
      // JSON can carry a lone surrogate as an escape; UTF-8, and so a 06, cannot.
      for (const text of ['x\\ud800y', '\\udc00', 'x'.repeat(300) + '\\ud83d']) {
        expectError(
          await http(port(), '/v1/messages', {
            auth: alice,
            body: `{"to":"${bob.number}","text":"${text}"}`,
          }),
          400,
        );
      }
      expect(await b.silentFor(150)).toBe(true);
      await sendStored(await env.session(alice), message(alice.number, bob.number, 'still fine'));
      expect((await receive(b, 1))[0]!.data).toBe('still fine');
    });

    it('413 for a declared body over the limit, answered before the body is sent', async () => {
      const alice = await env.user();
      const r = await new Promise<HttpAnswer>((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port: port(),
            path: '/v1/messages',
            method: 'POST',
            agent: false,
            headers: {
              'content-length': 100 * 1024 * 1024,
              authorization: `Bearer ${alice.number}:${alice.token}`,
            },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => {
              req.destroy();
              resolve(answer(res.statusCode ?? 0, res.headers, Buffer.concat(chunks).toString()));
            });
          },
        );
        req.on('error', reject);
        req.write('{"to":"'); // 100 MB declared, a few bytes sent: the answer must not wait for the rest
      });
      expectError(r, 413, 'ZAPWIRE_TOO_LARGE');
      expect(r.headers.connection).toBe('close');
    });

    it('413 for a streamed (chunked) body that grows over the limit, without reading it all', async () => {
      const alice = await env.user();
      let sent = 0;
      const r = await new Promise<HttpAnswer>((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port: port(),
            path: '/v1/messages',
            method: 'POST',
            agent: false,
            headers: { authorization: `Bearer ${alice.number}:${alice.token}` },
          },
          (res) => {
            clearInterval(pump);
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => {
              req.destroy();
              resolve(answer(res.statusCode ?? 0, res.headers, Buffer.concat(chunks).toString()));
            });
          },
        );
        req.on('error', (err) => (sent > MAX_BODY_BYTES ? undefined : reject(err)));
        const chunk = Buffer.alloc(4096, 0x20);
        const pump = setInterval(() => {
          if (sent > 64 * MAX_BODY_BYTES) return;
          req.write(chunk);
          sent += chunk.length;
        }, 2);
      });
      expectError(r, 413, 'ZAPWIRE_TOO_LARGE');
      expect(sent).toBeLessThan(64 * MAX_BODY_BYTES);
    });
  });

  describe('routes', () => {
    it('404 for an unknown path, 405 for a wrong method', async () => {
      expectError(await http(port(), '/v2/nothing'), 404, 'ZAPWIRE_NO_ROUTE');
      expectError(await http(port(), '/v1/messages'), 405, 'ZAPWIRE_METHOD');
      expectError(await http(port(), '/v1/users', { method: 'GET' }), 405);
      expectError(await http(port(), '/healthz', { method: 'POST', body: '{}' }), 405);
    });
  });

  describe('GET /healthz and /metrics', () => {
    it('200 when the store and every host answer', async () => {
      const r = await http(port(), '/healthz');
      expect(r.status).toBe(200);
      expect(r.json).toEqual({ status: 'ok', checks: { store: 'ok', commits: 'ok', hosts: 'ok' } });
    });

    it('serves Prometheus text', async () => {
      const r = await http(port(), '/metrics');
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toMatch(/^text\/plain/);
      expect(r.text).toMatch(/^# HELP zapwire_/m);
      expect(r.text).toMatch(/^zapwire_pending_rows \d+$/m);
    });
  });
});

describe('HTTP API with a small rate limit', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ httpPort: 0, rateLimit: 1 });
  });
  afterAll(() => t.stop());

  it('429 once a sender is over its rate', async () => {
    const httpPort = t.server.httpAddress!.port;
    const alice = (await http(httpPort, '/v1/users', { method: 'POST' })).json as Identity;
    const bob = (await http(httpPort, '/v1/users', { method: 'POST' })).json as Identity;
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++)
      statuses.push(
        (
          await http(httpPort, '/v1/messages', {
            auth: alice,
            body: { to: bob.number, text: `m${i}` },
          })
        ).status,
      );
    expect(statuses[0]).toBe(201);
    expect(statuses).toContain(429);
    const r = await http(httpPort, '/v1/messages', {
      auth: alice,
      body: { to: bob.number, text: 'again' },
    });
    expectError(r, 429, 'ZAPWIRE_RATE_LIMITED');
  });

  it("spends the same budget as the number's v1 sessions (docs/protocol.md §Limits: per number)", async () => {
    const httpPort = t.server.httpAddress!.port;
    const alice = (await http(httpPort, '/v1/users', { method: 'POST' })).json as Identity;
    const bob = (await http(httpPort, '/v1/users', { method: 'POST' })).json as Identity;
    // The burst of two, spent over v1.
    const session = await openSession(t.port, alice, false);
    try {
      for (let i = 0; i < 2; i++)
        await sendStored(session, message(alice.number, bob.number, `v1 ${i}`, { ts: T0 + i }));
    } finally {
      session.destroy();
    }
    const r = await http(httpPort, '/v1/messages', {
      auth: alice,
      body: { to: bob.number, text: 'over http' },
    });
    expectError(r, 429, 'ZAPWIRE_RATE_LIMITED');
    expect(r.json.error.message).toBe('sending too fast (rateLimit)');
  });
});

describe('HTTP API during shutdown', () => {
  it('answers 503 to a write that arrives while the server closes, and /healthz is 503', async () => {
    const t = await startTestServer({ httpPort: 0 });
    const httpPort = t.server.httpAddress!.port;
    const alice = (await http(httpPort, '/v1/users', { method: 'POST' })).json as Identity;
    const bob = (await http(httpPort, '/v1/users', { method: 'POST' })).json as Identity;
    const body = JSON.stringify({ to: bob.number, text: 'too late' });
    let stopping: Promise<void> | undefined;
    let health: Promise<{ ok: boolean; checks: Record<string, string> }> | undefined;
    // The request is under way (headers sent) when the close begins; its body comes after.
    const pending = new Promise<HttpAnswer>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: httpPort,
          path: '/v1/messages',
          method: 'POST',
          agent: false,
          headers: {
            'content-length': Buffer.byteLength(body),
            authorization: `Bearer ${alice.number}:${alice.token}`,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve(answer(res.statusCode ?? 0, res.headers, Buffer.concat(chunks).toString())),
          );
        },
      );
      req.on('error', reject);
      req.flushHeaders();
      setTimeout(() => {
        stopping = t.stop();
        health = t.server.health();
        setImmediate(() => req.end(body));
      }, 100);
    });
    const r = await pending;
    expectError(r, 503, 'ZAPWIRE_UNAVAILABLE');
    expect(await health).toEqual({ ok: false, checks: { server: 'shutting down' } });
    await stopping;
  });
});
