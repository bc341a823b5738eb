/**
 * README §Logs: one root logger for every thread (session hosts and the
 * broker send their lines to it), session lines carry the connection id and,
 * after `04`, the number; a client's malformed frame is a warning; tokens
 * never appear in any line.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http } from '../helpers/http.js';
import { captureLogs } from '../helpers/log-capture.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { eventually, message, rawFrame, sendStored, T0 } from '../helpers/v1.js';
import { type Identity, openSession, register, WireClient } from '../helpers/wire-client.js';

describe('logging', () => {
  let t: TestServer;
  const logs = captureLogs('debug');
  const lines = logs.lines;
  const tokens: string[] = [];

  beforeAll(async () => {
    t = await startTestServer({ httpPort: 0, threads: 2, logger: logs.logger });
  });
  afterAll(() => t.stop());

  it("writes every thread's lines through the root logger, tokens never among them", async () => {
    const alice: Identity = await register(t.port, 'alice');
    const bob: Identity = await register(t.port, 'bob');
    tokens.push(alice.token, bob.token);
    const a = await openSession(t.port, alice, false);
    await sendStored(a, message(alice.number, bob.number, 'hello', { ts: T0 }));
    // A wrong token, logged as a refusal, must not be logged either.
    const wrong = await WireClient.connect(t.port);
    wrong.send({ code: '04', src: alice.number, flag: true, data: 'not-the-token-1234567890' });
    await wrong.next();
    tokens.push('not-the-token-1234567890');

    const httpPort = t.server.httpAddress!.port;
    const carol = (await http(httpPort, '/v1/users', { body: { name: 'carol' } })).json as Identity;
    tokens.push(carol.token);
    expect(
      (
        await http(httpPort, '/v1/messages', {
          auth: carol,
          body: { to: bob.number, text: 'over HTTP' },
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await http(httpPort, '/v1/messages', {
          auth: { number: carol.number, token: 'wrong-http-token-987' },
          body: { to: bob.number, text: 'x' },
        })
      ).status,
    ).toBe(401);
    tokens.push('wrong-http-token-987');
    // The root logger's redaction also covers fields named token or authorization.
    t.server.logger.info(
      { token: carol.token, headers: { authorization: `Bearer ${carol.number}:${carol.token}` } },
      'redaction check',
    );

    a.close();
    wrong.destroy();
    await eventually(
      () => lines().some((l) => l.msg === 'connection closed' && l.number === alice.number),
      3_000,
      'the host logged the close',
    );
    expect(lines().find((l) => l.msg === 'redaction check')).toMatchObject({
      token: '[redacted]',
      headers: { authorization: '[redacted]' },
    });
    for (const token of tokens)
      expect(logs.text(), `token ${token} in the logs`).not.toContain(token);
  });

  it('session lines carry the connection id, and the number after 04', async () => {
    const all = lines();
    const assigned = all.filter((l) => l.msg === 'connection assigned');
    expect(assigned.length).toBeGreaterThan(0);
    for (const line of assigned) {
      expect(line.sid).toEqual(expect.any(Number));
      expect(line.host).toEqual(expect.any(Number));
    }
    const opened = all.filter((l) => l.msg === 'session opened');
    expect(opened.length).toBeGreaterThan(0);
    for (const line of opened) {
      expect(line.sid).toEqual(expect.any(Number));
      expect(line.number).toMatch(/^[0-9]{13}$/);
    }
  });

  it("a client's malformed frame is logged at warn (40), not error", async () => {
    const c = await WireClient.connect(t.port);
    c.sendRaw(rawFrame({ code: '05' }, (bytes) => bytes.write('XX', 0, 'latin1')));
    await c.next();
    c.destroy();
    await eventually(
      () => lines().some((l) => l.msg === 'malformed frame'),
      3_000,
      'the malformed frame logged',
    );
    const malformed = lines().filter((l) => l.msg === 'malformed frame');
    expect(malformed.every((l) => l.level === 40)).toBe(true);
    expect(malformed[0]!.sid).toEqual(expect.any(Number));
    expect(lines().filter((l) => l.level >= 50)).toEqual([]);
  });
});
