/**
 * docs/protocol.md §Names over TCP: `12` -> `13` for users and groups, `14`
 * -> `15` by members only, with the documented statuses, and names kept by
 * the store across a restart.
 */
import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import {
  expectError,
  expectErrorAndClose,
  expectErrorAndOpen,
  T0,
  unknownNumber,
  useServer,
} from '../../helpers/v1.js';
import {
  type Identity,
  openSession,
  register,
  type WireClient,
} from '../../helpers/wire-client.js';

const env = useServer();

/** Sends `10` and returns the group's number from the `11`. */
async function createGroup(c: WireClient, creator: Identity, ...members: Identity[]) {
  c.send({ code: '10', src: creator.number, ts: T0, data: members.map((m) => m.number).join('') });
  const created = await c.next();
  expect(created.code).toBe('11');
  return created.dst;
}

/** Sends `12` about `number` and returns the answer. */
async function nameOf(c: WireClient, asker: Identity, number: string) {
  c.send({ code: '12', src: asker.number, dst: number, ts: T0 });
  return c.next();
}

/** Sends `14` naming `group` and returns the answer. */
async function nameGroup(c: WireClient, who: Identity, group: string, name: string) {
  c.send({ code: '14', src: who.number, dst: group, ts: T0, data: name });
  return c.next();
}

describe('docs/protocol.md §Names: 12 -> 13', () => {
  it("answers a user's registered name with flag 0, to anyone with a session", async () => {
    const alice = await env.user('Alice ☕');
    const bob = await env.user();
    const b = await env.session(bob);
    expect(await nameOf(b, bob, alice.number)).toMatchObject({
      code: '13',
      dst: alice.number,
      flag: false,
      data: 'Alice ☕',
    });
    expect(await nameOf(b, bob, bob.number)).toMatchObject({ code: '13', flag: false, data: '' });
  });

  it("answers a group's name with flag 1 to a member, empty until it is named", async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice);
    const group = await createGroup(a, alice, bob);
    // A poll session: the group's creation notice is not pushed between the answers.
    const b = await env.session(bob, false);
    expect(await nameOf(b, bob, group)).toMatchObject({
      code: '13',
      dst: group,
      flag: true,
      data: '',
    });
    expect(await nameGroup(a, alice, group, 'Família 👪')).toMatchObject({ code: '15' });
    expect(await nameOf(b, bob, group)).toMatchObject({ flag: true, data: 'Família 👪' });
  });

  it("refuses a group's name to a non-member (403) and a number that is neither (404), and stays open", async () => {
    const [alice, bob, carol] = await env.users(3);
    const group = await createGroup(await env.session(alice), alice, bob);
    const c = await env.session(carol);
    c.send({ code: '12', src: carol.number, dst: group, ts: T0 });
    await expectErrorAndOpen(c, 403, carol.number, { src: carol.number, dst: group, ts: T0 });
    const nobody = unknownNumber();
    c.send({ code: '12', src: carol.number, dst: nobody, ts: T0 });
    await expectErrorAndOpen(c, 404, carol.number, { src: carol.number, dst: nobody, ts: T0 });
  });

  it('needs a session: a 12 before 04 is 09 401, and the connection closes', async () => {
    const alice = await env.user('Alice');
    const c = await env.connect();
    c.send({ code: '12', src: alice.number, dst: alice.number, ts: T0 });
    await expectErrorAndClose(c, 401);
  });
});

describe('docs/protocol.md §Names: 14 -> 15', () => {
  it('lets any member name the group; 15 carries the name stored, and the last 14 wins', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice);
    const group = await createGroup(a, alice, bob);
    // A poll session: the group's creation notice is not pushed between the answers.
    const b = await env.session(bob, false);
    expect(await nameGroup(a, alice, group, 'Família')).toMatchObject({
      code: '15',
      dst: group,
      data: 'Família',
    });
    expect(await nameGroup(b, bob, group, 'Churrasco 🍖')).toMatchObject({
      code: '15',
      data: 'Churrasco 🍖',
    });
    expect(await nameOf(a, alice, group)).toMatchObject({ data: 'Churrasco 🍖' });
  });

  it('refuses a non-member (403) and stays open; the name is unchanged', async () => {
    const [alice, bob, carol] = await env.users(3);
    const a = await env.session(alice);
    const group = await createGroup(a, alice, bob);
    await nameGroup(a, alice, group, 'ours');
    const c = await env.session(carol);
    c.send({ code: '14', src: carol.number, dst: group, ts: T0, data: 'mine' });
    await expectErrorAndOpen(c, 403, carol.number, { src: carol.number, dst: group, ts: T0 });
    expect(await nameOf(a, alice, group)).toMatchObject({ data: 'ours' });
  });

  it("refuses a number that is not a group (404): a user's name cannot be set this way", async () => {
    const alice = await env.user('Alice');
    const bob = await env.user();
    const b = await env.session(bob);
    b.send({ code: '14', src: bob.number, dst: alice.number, ts: T0, data: 'Mallory' });
    await expectErrorAndOpen(b, 404, bob.number, { src: bob.number, dst: alice.number, ts: T0 });
    const nobody = unknownNumber();
    b.send({ code: '14', src: bob.number, dst: nobody, ts: T0, data: 'x' });
    await expectErrorAndOpen(b, 404, bob.number);
    expect(await nameOf(b, bob, alice.number)).toMatchObject({ data: 'Alice' });
  });

  it('refuses a name over 64 bytes (413) and stays open; 64 bytes are taken', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice);
    const group = await createGroup(a, alice, bob);
    a.send({ code: '14', src: alice.number, dst: group, ts: T0, data: 'é'.repeat(33) });
    await expectErrorAndOpen(a, 413, alice.number, { src: alice.number, dst: group, ts: T0 });
    expect(await nameGroup(a, alice, group, 'é'.repeat(32))).toMatchObject({
      code: '15',
      data: 'é'.repeat(32),
    });
  });

  it('refuses an empty name as malformed (400), which closes the connection', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice);
    const group = await createGroup(a, alice, bob);
    a.send({ code: '14', src: alice.number, dst: group, ts: T0, data: '' });
    await expectErrorAndClose(a, 400, { src: alice.number, dst: group, ts: T0 });
  });

  it('needs a session: a 14 before 04 is 09 401, and the connection closes', async () => {
    const alice = await env.user();
    const c = await env.connect();
    c.send({ code: '14', src: alice.number, dst: alice.number, ts: T0, data: 'x' });
    await expectErrorAndClose(c, 401);
  });
});

describe('docs/protocol.md §Names: names are stored', () => {
  const opened: { servers: TestServer[]; clients: WireClient[]; dirs: string[] } = {
    servers: [],
    clients: [],
    dirs: [],
  };
  afterEach(async () => {
    for (const c of opened.clients.splice(0)) c.destroy();
    await Promise.all(opened.servers.splice(0).map((t) => t.stop()));
    for (const dir of opened.dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const start = async (dbPath?: string) => {
    const t = await startTestServer(dbPath === undefined ? {} : { dbPath });
    opened.servers.push(t);
    return t;
  };
  const session = async (t: TestServer, who: Identity) => {
    // Poll sessions: no pending notice is pushed between the answers.
    const c = await openSession(t.port, who, false);
    opened.clients.push(c);
    return c;
  };

  it("keeps users' and groups' names across a restart on the same database", async () => {
    const t = await start();
    const alice = await register(t.port, 'Alice');
    const bob = await register(t.port, 'Bob');
    const a = await session(t, alice);
    const group = await createGroup(a, alice, bob);
    expect(await nameGroup(a, alice, group, 'Família')).toMatchObject({ code: '15' });
    a.destroy();
    // close() keeps the folder; the next server opens the same file.
    await t.server.close();
    opened.servers.splice(opened.servers.indexOf(t), 1);
    opened.dirs.push(t.dir);

    const t2 = await start(t.dbPath);
    const b = await session(t2, bob);
    expect(await nameOf(b, bob, group)).toMatchObject({ code: '13', flag: true, data: 'Família' });
    expect(await nameOf(b, bob, alice.number)).toMatchObject({ flag: false, data: 'Alice' });
    expectError(await nameOf(b, bob, unknownNumber()), 404);
  });
});
