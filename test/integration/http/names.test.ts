/**
 * README §HTTP API, names (docs/protocol.md §Names): `GET
 * /v1/numbers/<n>/name` answers what a `12` answers, `PUT
 * /v1/groups/<g>/name` does what a `14` does, with the same checks, and
 * each sees what the other path set.
 */
import { describe, expect, it } from 'vitest';
import { type HttpAnswer, http } from '../../helpers/http.js';
import { T0, unknownNumber, useServer } from '../../helpers/v1.js';
import type { Identity } from '../../helpers/wire-client.js';

const env = useServer({ httpPort: 0 });
const port = () => env.t.server.httpAddress!.port;

function expectError(r: HttpAnswer, status: number, code?: string): void {
  expect(r.status, r.text).toBe(status);
  expect(r.json.error.status).toBe(status);
  if (code) expect(r.json.error.code).toBe(code);
}

/** A group `creator` made over TCP (10 -> 11) with `members`. */
async function groupOf(creator: Identity, ...members: Identity[]): Promise<string> {
  const c = await env.session(creator);
  c.send({ code: '10', src: creator.number, ts: T0, data: members.map((m) => m.number).join('') });
  const created = await c.next();
  expect(created.code).toBe('11');
  return created.dst;
}

const nameOf = (number: string, auth?: Identity) =>
  http(port(), `/v1/numbers/${number}/name`, auth ? { auth } : {});
const rename = (group: string, auth: Identity | undefined, body: unknown) =>
  http(port(), `/v1/groups/${group}/name`, {
    method: 'PUT',
    body: body as object,
    ...(auth ? { auth } : {}),
  });

describe('GET /v1/numbers/<n>/name', () => {
  it("200 with a user's registered name (kind user) to anyone with a token", async () => {
    const [alice, bob] = [await env.user('Alice ☕'), await env.user()];
    const r = await nameOf(alice.number, bob);
    expect(r.status, r.text).toBe(200);
    expect(r.json).toEqual({ number: alice.number, kind: 'user', name: 'Alice ☕' });
  });

  it("200 with a group's name (kind group) to a member, empty before it is named; 403 to anyone else", async () => {
    const [alice, bob, carol] = await env.users(3);
    const group = await groupOf(alice, bob);
    expect((await nameOf(group, bob)).json).toEqual({ number: group, kind: 'group', name: '' });
    expectError(await nameOf(group, carol), 403, 'ZAPWIRE_FORBIDDEN');
  });

  it('404 for a number that is neither a user nor a group, 400 for a path that is not 13 digits', async () => {
    const alice = await env.user();
    expectError(await nameOf(unknownNumber(), alice), 404, 'ZAPWIRE_NOT_FOUND');
    expectError(await nameOf('12345', alice), 400, 'ZAPWIRE_MALFORMED_REQUEST');
  });

  it('401 without a token or with a wrong one, whatever is asked', async () => {
    const alice = await env.user('Alice');
    expectError(await nameOf(alice.number), 401, 'ZAPWIRE_UNAUTHORIZED');
    expectError(
      await nameOf(alice.number, { number: alice.number, token: 'wrong' }),
      401,
      'ZAPWIRE_UNAUTHORIZED',
    );
  });

  it('405 for another method', async () => {
    const alice = await env.user();
    expectError(
      await http(port(), `/v1/numbers/${alice.number}/name`, { method: 'DELETE', auth: alice }),
      405,
    );
  });
});

describe('PUT /v1/groups/<g>/name', () => {
  it('200 {group, name} for a member; a 12 over TCP then answers the name', async () => {
    const [alice, bob] = await env.users(2);
    const group = await groupOf(alice, bob);
    const r = await rename(group, bob, { name: 'Família 👪' });
    expect(r.status, r.text).toBe(200);
    expect(r.json).toEqual({ group, name: 'Família 👪' });
    const a = await env.session(alice);
    a.send({ code: '12', src: alice.number, dst: group });
    expect(await a.next()).toMatchObject({
      code: '13',
      dst: group,
      flag: true,
      data: 'Família 👪',
    });
  });

  it('403 for a non-member, 404 for a user or an unknown number; the name is unchanged', async () => {
    const [alice, bob, carol] = await env.users(3);
    const group = await groupOf(alice, bob);
    await rename(group, alice, { name: 'kept' });
    expectError(await rename(group, carol, { name: 'mine now' }), 403, 'ZAPWIRE_FORBIDDEN');
    expectError(await rename(bob.number, alice, { name: 'x' }), 404, 'ZAPWIRE_NOT_FOUND');
    expectError(await rename(unknownNumber(), alice, { name: 'x' }), 404, 'ZAPWIRE_NOT_FOUND');
    expect((await nameOf(group, bob)).json.name).toBe('kept');
  });

  it('400 for an empty name, a name that is not a string or has NUL; 413 over 64 bytes', async () => {
    const [alice, bob] = await env.users(2);
    const group = await groupOf(alice, bob);
    expectError(await rename(group, alice, { name: '' }), 400, 'ZAPWIRE_MALFORMED_REQUEST');
    expectError(await rename(group, alice, { name: 7 }), 400, 'ZAPWIRE_MALFORMED_REQUEST');
    expectError(await rename(group, alice, { name: 'a\u0000b' }), 400);
    expectError(await rename(group, alice, '{"name":"x\\ud800"}'), 400);
    expectError(await rename(group, alice, { name: 'é'.repeat(33) }), 413, 'ZAPWIRE_TOO_LARGE');
    expect((await rename(group, alice, { name: 'é'.repeat(32) })).status).toBe(200);
  });

  it('401 without a token or with a wrong one, and nothing changes', async () => {
    const [alice, bob] = await env.users(2);
    const group = await groupOf(alice, bob);
    expectError(await rename(group, undefined, { name: 'x' }), 401, 'ZAPWIRE_UNAUTHORIZED');
    expectError(
      await rename(group, { number: alice.number, token: 'wrong' }, { name: 'x' }),
      401,
      'ZAPWIRE_UNAUTHORIZED',
    );
    expect((await nameOf(group, alice)).json.name).toBe('');
  });
});
