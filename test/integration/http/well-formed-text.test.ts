/**
 * Issue #9, well-formed text over HTTP: a JSON string may escape a lone
 * surrogate (`"\ud800"`), which has no UTF-8 encoding. It is refused `400`
 * before anything is stored, so it can never reach a recipient's session
 * host, and no push session anywhere is disturbed. A body that is not valid
 * UTF-8 is refused the same way rather than stored with replacement
 * characters.
 */
import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { answer, type HttpAnswer, http } from '../../helpers/http.js';
import { expectStillServed, receive, useServer } from '../../helpers/v1.js';
import type { Identity, WireClient } from '../../helpers/wire-client.js';

const env = useServer({ httpPort: 0, threads: 2 });
const port = () => env.t.server.httpAddress!.port;

/** A POST whose body is these exact bytes (the http helper sends strings, which Node encodes as UTF-8). */
function postBytes(path: string, bytes: Buffer, auth: Identity): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const headers = {
      'content-type': 'application/json',
      'content-length': bytes.length,
      authorization: `Bearer ${auth.number}:${auth.token}`,
    };
    const req = request(
      { host: '127.0.0.1', port: port(), path, method: 'POST', headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve(answer(res.statusCode ?? 0, res.headers, Buffer.concat(chunks).toString('utf8'))),
        );
      },
    );
    req.on('error', reject);
    req.end(bytes);
  });
}

function expectBadRequest(r: HttpAnswer): void {
  expect(r.status, r.text).toBe(400);
  expect(r.json.error.code).toMatch(/^ZAPWIRE_(MALFORMED_REQUEST|BAD_JSON)$/);
}

describe('HTTP: text and names must be well-formed Unicode', () => {
  it('POST /v1/messages with a lone surrogate is 400, nothing is stored, and every push session stays open', async () => {
    const [alice, bob, ...others] = await env.users(6);
    const b = await env.session(bob!);
    const sessions: [Identity, WireClient][] = [];
    for (const who of others) sessions.push([who, await env.session(who)]);
    // Written by hand: JSON.stringify would escape the surrogate just the same, but this is exactly what an attacker sends.
    const body = `{"to":"${bob!.number}","text":"x\\ud800y"}`;
    for (const text of [
      body,
      body.replace('\\ud800', '\\udfff'),
      body.replace('x\\ud800y', '\\ud83d'),
    ]) {
      expectBadRequest(await http(port(), '/v1/messages', { auth: alice!, body: text }));
    }
    // The next message is the first bob ever gets: nothing of the refused ones was stored.
    expect(
      (
        await http(port(), '/v1/messages', {
          auth: alice!,
          body: { to: bob!.number, text: 'well formed 😀' },
        })
      ).status,
    ).toBe(201);
    expect((await receive(b, 1, { ackAs: bob!.number }))[0]).toMatchObject({
      src: alice!.number,
      data: 'well formed 😀',
    });
    await expectStillServed(b, bob!.number);
    for (const [who, c] of sessions) await expectStillServed(c, who.number);
  });

  it('POST /v1/messages whose body is not valid UTF-8 is 400', async () => {
    const [alice, bob] = await env.users(2);
    const b = await env.session(bob!);
    const bytes = Buffer.concat([
      Buffer.from(`{"to":"${bob!.number}","text":"x`),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('y"}'),
    ]);
    expectBadRequest(await postBytes('/v1/messages', bytes, alice!));
    expect(await b.silentFor(200)).toBe(true);
  });

  it('POST /v1/users with a lone surrogate in the name is 400', async () => {
    expectBadRequest(await http(port(), '/v1/users', { body: '{"name":"\\udc00"}' }));
  });
});
