import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Admission } from '../../../src/server/main-thread/admission.js';
import { LegacyListener } from '../../../src/server/main-thread/legacy-listener.js';
import type { BrokerClient, Result } from '../../../src/server/threads/broker-client.js';
import { captureLogs, LEVEL } from '../../helpers/log-capture.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { openSession, register, type WireClient } from '../../helpers/wire-client.js';

/**
 * docs/protocol.md §Legacy listener, end to end: a real server with `legacyPort: 0`,
 * spoken to in two ways. Raw node sockets write exactly what the original
 * client wrote and the tests assert the exact bytes answered; the Python
 * fixture (test/fixtures/opa_client.py) reproduces the original client's
 * socket habits (one sendall, one recv per frame), so what it sees is what the
 * unmodified clients see.
 */

const PYTHON_CLIENT = fileURLToPath(new URL('../../fixtures/opa_client.py', import.meta.url));
const run = promisify(execFile);
// A test that drives the Python client starts up to seven python3 processes
// one after another; on a loaded 2-core machine such a test passed the
// suite-wide 20 s (seen twice; alone it takes a few seconds). Bounded still, at a minute.
vi.setConfig({ testTimeout: 60_000 });
const TS = 1_700_000_000;

const ts10 = (ts: number) => String(ts).padStart(10, '0');
const nowSeconds = () => Math.floor(Date.now() / 1000);

interface LegacyAnswer {
  /** Everything the server wrote before it closed the connection. */
  bytes: Buffer;
  /** As the reads delivered it: one chunk per `data` event. */
  chunks: Buffer[];
}

/**
 * One request on its own connection, as the original client made it: the bytes
 * in one write, then wait for the server to close. `halfClose` also sends FIN
 * after the request (what the Python client does after `05` and `10`); without
 * it the request ends by the client falling quiet.
 */
function legacyRequest(
  port: number,
  request: Buffer | string,
  { halfClose = false, timeoutMs = 5_000 } = {},
): Promise<LegacyAnswer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, '127.0.0.1');
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new Error(
          `legacy connection still open after ${timeoutMs} ms; got ${JSON.stringify(Buffer.concat(chunks).toString('latin1'))}`,
        ),
      );
    }, timeoutMs);
    socket.on('connect', () => {
      socket.write(typeof request === 'string' ? Buffer.from(request, 'utf8') : request);
      if (halfClose) socket.end();
    });
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ bytes: Buffer.concat(chunks), chunks });
    });
  });
}

/** The `06` the original server wrote for one message: no padding, no delimiter. */
function legacy06(src: string, dst: string, ts: number, text: string): string {
  return '06' + src + dst + ts10(ts) + text;
}

async function legacyRegister(port: number): Promise<string> {
  const answer = await legacyRequest(port, '01');
  const text = answer.bytes.toString('latin1');
  expect(text).toMatch(/^02[0-9]{13}$/);
  return text.slice(2);
}

async function legacySend(
  port: number,
  src: string,
  dst: string,
  ts: number,
  text: string,
): Promise<void> {
  const answer = await legacyRequest(port, '05' + src + dst + ts10(ts) + text, { halfClose: true });
  expect(answer.bytes.length).toBe(0);
}

/** Polls with a raw socket; returns the bytes of each `06`, as read. */
async function legacyPoll(port: number, number: string): Promise<LegacyAnswer> {
  return legacyRequest(port, '03' + number);
}

interface PyFrame {
  raw: string;
  none?: true;
  malformed?: true;
  src?: string;
  dst?: string;
  ts?: number;
  text?: string;
}

/** Runs the Python stand-in of the original client; resolves with its stdout lines. */
async function opa(port: number, ...args: string[]): Promise<string[]> {
  const { stdout } = await run(
    'python3',
    [PYTHON_CLIENT, '--host', '127.0.0.1', '--port', String(port), '--timeout', '5', ...args],
    {
      timeout: 10_000,
    },
  );
  return stdout.split('\n').filter((line) => line.length > 0);
}

async function opaPoll(port: number, number: string): Promise<PyFrame[]> {
  return (await opa(port, 'poll', number)).map((line) => JSON.parse(line) as PyFrame);
}

describe('docs/protocol.md §Legacy listener', () => {
  let t: TestServer;
  let legacyPort: number;
  const open: WireClient[] = [];

  beforeAll(async () => {
    t = await startTestServer({ legacyPort: 0 });
    legacyPort = t.server.legacyAddress!.port;
  });
  afterEach(() => {
    for (const c of open.splice(0)) c.destroy();
  });
  afterAll(async () => {
    await t?.stop();
  });

  describe('01 register', () => {
    it('answers `01` (exactly those 2 bytes) with `02` + a new 13-digit number, then closes', async () => {
      const answer = await legacyRequest(legacyPort, '01');
      expect(answer.bytes.length).toBe(15);
      expect(answer.bytes.toString('latin1')).toMatch(/^02[0-9]{13}$/);
    });

    it('gives every registration a different number (the Python client sees `02` + number in one recv)', async () => {
      const [first] = await opa(legacyPort, 'register');
      const [second] = await opa(legacyPort, 'register');
      expect(first).toMatch(/^[0-9]{13}$/);
      expect(second).toMatch(/^[0-9]{13}$/);
      expect(first).not.toBe(second);
    });
  });

  describe('19 is this number valid?', () => {
    it('answers `201` for a registered user and `200` for an unknown number, then closes', async () => {
      const number = await legacyRegister(legacyPort);
      expect((await legacyRequest(legacyPort, '19' + number)).bytes.toString('latin1')).toBe('201');
      const unknown = number === '0000000000001' ? '0000000000002' : '0000000000001';
      expect((await legacyRequest(legacyPort, '19' + unknown)).bytes.toString('latin1')).toBe(
        '200',
      );
    });

    it('answers the Python client with 201 / 200 in one recv', async () => {
      const number = (await opa(legacyPort, 'register'))[0]!;
      expect(await opa(legacyPort, 'validate', number)).toEqual(['201']);
      expect(await opa(legacyPort, 'validate', '0000000000000')).toEqual(['200']);
    });

    it('counts a user registered on protocol v1 as a registered user (same store)', async () => {
      const v1 = await register(t.port);
      expect((await legacyRequest(legacyPort, '19' + v1.number)).bytes.toString('latin1')).toBe(
        '201',
      );
    });
  });

  describe('05 send and 03 poll between two legacy users', () => {
    it('stores a 05 with no answer; the recipient polls it once as `06`+src+dst+ts+text, and then gets the bare `06`', async () => {
      const alice = await legacyRegister(legacyPort);
      const bob = await legacyRegister(legacyPort);
      await legacySend(legacyPort, alice, bob, TS, 'oi bob, tudo bem? ção');

      const first = await legacyPoll(legacyPort, bob);
      expect(first.bytes.toString('utf8')).toBe(legacy06(alice, bob, TS, 'oi bob, tudo bem? ção'));
      // Deleted once written: a second poll finds nothing.
      const second = await legacyPoll(legacyPort, bob);
      expect(second.bytes.toString('latin1')).toBe('06');
    });

    it('answers a poll with nothing pending with the bare `06` (2 bytes)', async () => {
      const nobody = await legacyRegister(legacyPort);
      const answer = await legacyPoll(legacyPort, nobody);
      expect(answer.bytes.toString('latin1')).toBe('06');
    });

    it('takes a 05 that ends by the client falling quiet (no FIN) as complete', async () => {
      const alice = await legacyRegister(legacyPort);
      const bob = await legacyRegister(legacyPort);
      const answer = await legacyRequest(legacyPort, '05' + alice + bob + ts10(TS) + 'sem FIN');
      expect(answer.bytes.length).toBe(0);
      expect((await legacyPoll(legacyPort, bob)).bytes.toString('utf8')).toBe(
        legacy06(alice, bob, TS, 'sem FIN'),
      );
    });

    it('takes what one read brought as the 05, as the original recv did: bytes written after it are not part of it', async () => {
      const alice = await legacyRegister(legacyPort);
      const bob = await legacyRegister(legacyPort);
      const socket = connect(legacyPort, '127.0.0.1');
      socket.on('error', () => {});
      socket.resume();
      // The server ends its side once the request is stored (a 05 has no answer).
      const ended = once(socket, 'end');
      await once(socket, 'connect');
      socket.write('05' + alice + bob + ts10(TS) + 'one read');
      // Well within the 50 ms the listener used to wait for a quiet client.
      await sleep(10);
      socket.write(' and a late piece');
      await ended;
      socket.destroy();
      expect((await legacyPoll(legacyPort, bob)).bytes.toString('utf8')).toBe(
        legacy06(alice, bob, TS, 'one read'),
      );
    });

    it('waits for the rest of a 05 cut before its text, or inside a UTF-8 character, and stores it whole', async () => {
      const alice = await legacyRegister(legacyPort);
      const bob = await legacyRegister(legacyPort);
      // 'é' is the last two bytes: a cut before the last byte is inside it.
      const whole = Buffer.from('05' + alice + bob + ts10(TS) + 'ação é', 'utf8');
      for (const cut of [20, whole.length - 1]) {
        const socket = connect(legacyPort, '127.0.0.1');
        socket.on('error', () => {});
        socket.resume();
        const ended = once(socket, 'end');
        await once(socket, 'connect');
        socket.write(whole.subarray(0, cut));
        await sleep(10);
        socket.write(whole.subarray(cut));
        await ended;
        socket.destroy();
        expect((await legacyPoll(legacyPort, bob)).bytes.toString('utf8'), `cut at ${cut}`).toBe(
          legacy06(alice, bob, TS, 'ação é'),
        );
      }
    });

    it('queues the `recebida` receipt for the sender once the message is written; the receipt itself makes no receipt', async () => {
      const alice = await legacyRegister(legacyPort);
      const bob = await legacyRegister(legacyPort);
      await legacySend(legacyPort, alice, bob, TS, 'confirma?');
      // Nothing for the sender before the recipient has polled.
      expect((await legacyPoll(legacyPort, alice)).bytes.toString('latin1')).toBe('06');

      const before = nowSeconds();
      expect((await legacyPoll(legacyPort, bob)).bytes.toString('utf8')).toBe(
        legacy06(alice, bob, TS, 'confirma?'),
      );
      const receipt = (await legacyPoll(legacyPort, alice)).bytes.toString('utf8');
      const after = nowSeconds();
      // Legacy form (render.ts toLegacyMessage): from the recipient, the time it was made, text `recebida`.
      expect(receipt).toMatch(new RegExp(`^06${bob}${alice}[0-9]{10}recebida$`));
      const receiptTs = Number(receipt.slice(28, 38));
      expect(receiptTs).toBeGreaterThanOrEqual(before);
      expect(receiptTs).toBeLessThanOrEqual(after);

      // Receipts never ask for receipts: bob gets nothing back for alice's receipt.
      expect((await legacyPoll(legacyPort, bob)).bytes.toString('latin1')).toBe('06');
      expect((await legacyPoll(legacyPort, alice)).bytes.toString('latin1')).toBe('06');
    });

    it('makes no receipt for a message whose text begins with `recebida` or `Lidas`', async () => {
      const alice = await legacyRegister(legacyPort);
      const bob = await legacyRegister(legacyPort);
      await legacySend(legacyPort, alice, bob, TS, 'Lidas 3');
      await legacySend(legacyPort, alice, bob, TS + 1, 'recebida');
      const polled = await opaPoll(legacyPort, bob);
      expect(polled.map((f) => f.text)).toEqual(['Lidas 3', 'recebida']);
      expect((await legacyPoll(legacyPort, alice)).bytes.toString('latin1')).toBe('06');
    });

    it('works the same way for the Python client: send, poll once, then the bare 06; the sender gets `recebida`', async () => {
      const alice = (await opa(legacyPort, 'register'))[0]!;
      const bob = (await opa(legacyPort, 'register'))[0]!;
      expect(
        await opa(legacyPort, 'send', alice, bob, 'olá do python', '--ts', String(TS)),
      ).toEqual([]);
      expect(await opaPoll(legacyPort, bob)).toEqual([
        {
          raw: legacy06(alice, bob, TS, 'olá do python'),
          src: alice,
          dst: bob,
          ts: TS,
          text: 'olá do python',
        },
      ]);
      expect(await opaPoll(legacyPort, bob)).toEqual([{ raw: '06', none: true }]);
      const receipts = await opaPoll(legacyPort, alice);
      expect(receipts).toHaveLength(1);
      expect(receipts[0]).toMatchObject({ src: bob, dst: alice, text: 'recebida' });
    });
  });

  describe('several pending messages', () => {
    it('writes each as its own `06`, one per read, paced so that the original client reads each as one well-formed frame', async () => {
      const alice = await legacyRegister(legacyPort);
      const bob = await legacyRegister(legacyPort);
      const carol = await legacyRegister(legacyPort);
      const texts = ['um', 'dois', 'três', 'quatro', 'cinco'];
      for (const [i, text] of texts.entries())
        await legacySend(legacyPort, alice, bob, TS + i, text);
      for (const [i, text] of texts.entries())
        await legacySend(legacyPort, alice, carol, TS + i, text);

      // The Python client: one recv per frame; two frames read together would come out as one, garbled.
      const polled = await opaPoll(legacyPort, bob);
      expect(polled).toEqual(
        texts.map((text, i) => ({
          raw: legacy06(alice, bob, TS + i, text),
          src: alice,
          dst: bob,
          ts: TS + i,
          text,
        })),
      );

      // Raw: byte-exact, and each 06 arrives on its own.
      const raw = await legacyPoll(legacyPort, carol);
      expect(raw.chunks.map((c) => c.toString('utf8'))).toEqual(
        texts.map((text, i) => legacy06(alice, carol, TS + i, text)),
      );

      expect((await legacyPoll(legacyPort, bob)).bytes.toString('latin1')).toBe('06');
      expect((await legacyPoll(legacyPort, carol)).bytes.toString('latin1')).toBe('06');
    });
  });

  describe('10 create group, and 05 to a group', () => {
    it('gives every listed member a notice from the group whose text is the member list; a group message reaches each other member from the group with the sender appended', async () => {
      const alice = await legacyRegister(legacyPort);
      const bob = await legacyRegister(legacyPort);
      const carol = await legacyRegister(legacyPort);
      const members = alice + bob + carol;

      // 10 + ts + members: no answer.
      const created = await legacyRequest(legacyPort, '10' + ts10(TS) + members, {
        halfClose: true,
      });
      expect(created.bytes.length).toBe(0);

      // Every listed member, the first one included, is told; that is how the original client learns the group's number.
      const noticeAlice = (await legacyPoll(legacyPort, alice)).bytes.toString('latin1');
      expect(noticeAlice).toMatch(new RegExp(`^06[0-9]{13}${alice}${ts10(TS)}${members}$`));
      const group = noticeAlice.slice(2, 15);
      expect([alice, bob, carol]).not.toContain(group);
      expect((await legacyPoll(legacyPort, bob)).bytes.toString('latin1')).toBe(
        legacy06(group, bob, TS, members),
      );
      expect(await opaPoll(legacyPort, carol)).toEqual([
        { raw: legacy06(group, carol, TS, members), src: group, dst: carol, ts: TS, text: members },
      ]);
      // The notices make no receipts.
      expect((await legacyPoll(legacyPort, alice)).bytes.toString('latin1')).toBe('06');

      // 05 to the group: one copy for every member, the sender included (the
      // original stored one for every member), src the group, the sender appended to the text.
      await legacySend(legacyPort, alice, group, TS + 5, 'oi grupo');
      expect((await legacyPoll(legacyPort, bob)).bytes.toString('utf8')).toBe(
        legacy06(group, bob, TS + 5, 'oi grupo' + alice),
      );
      // bob's poll queued `recebida`+bob for alice and carol; carol gets the message first, then that receipt.
      const carolPoll = await opaPoll(legacyPort, carol);
      expect(carolPoll).toHaveLength(2);
      expect(carolPoll[0]).toEqual({
        raw: legacy06(group, carol, TS + 5, 'oi grupo' + alice),
        src: group,
        dst: carol,
        ts: TS + 5,
        text: 'oi grupo' + alice,
      });
      expect(carolPoll[1]).toMatchObject({ src: group, dst: carol, text: 'recebida' + bob });

      // The sender gets its own copy (stored first), then the members' receipts.
      const alicePoll = await opaPoll(legacyPort, alice);
      expect(alicePoll.map((f) => [f.src, f.dst, f.text])).toEqual([
        [group, alice, 'oi grupo' + alice],
        [group, alice, 'recebida' + bob],
        [group, alice, 'recebida' + carol],
      ]);
      expect(alicePoll[0]).toEqual({
        raw: legacy06(group, alice, TS + 5, 'oi grupo' + alice),
        src: group,
        dst: alice,
        ts: TS + 5,
        text: 'oi grupo' + alice,
      });
      // Taking its own copy queued `recebida`+alice for the others, as any member's does.
      const bobPoll = await opaPoll(legacyPort, bob);
      expect(bobPoll.map((f) => [f.src, f.dst, f.text])).toEqual([
        [group, bob, 'recebida' + carol],
        [group, bob, 'recebida' + alice],
      ]);
      const carolReceipts = await opaPoll(legacyPort, carol);
      expect(carolReceipts.map((f) => [f.src, f.dst, f.text])).toEqual([
        [group, carol, 'recebida' + alice],
      ]);

      // Receipts make no receipts: everyone is done.
      for (const who of [alice, bob, carol])
        expect((await legacyPoll(legacyPort, who)).bytes.toString('latin1')).toBe('06');
    });

    it('learns the group number from the notice with the Python client, and groups are not users for `19`', async () => {
      const alice = (await opa(legacyPort, 'register'))[0]!;
      const bob = (await opa(legacyPort, 'register'))[0]!;
      expect(await opa(legacyPort, 'group', '--ts', String(TS), alice, bob)).toEqual([]);
      const [notice] = await opaPoll(legacyPort, bob);
      expect(notice).toMatchObject({ dst: bob, ts: TS, text: alice + bob });
      const group = notice!.src!;
      expect(group).toMatch(/^[0-9]{13}$/);
      // `201` if it is a registered user: a group is not one.
      expect(await opa(legacyPort, 'validate', group)).toEqual(['200']);

      expect(await opa(legacyPort, 'send', bob, group, 'do bob', '--ts', String(TS + 1))).toEqual(
        [],
      );
      const alicePoll = await opaPoll(legacyPort, alice);
      expect(alicePoll).toEqual([
        {
          raw: legacy06(group, alice, TS, alice + bob),
          src: group,
          dst: alice,
          ts: TS,
          text: alice + bob,
        },
        {
          raw: legacy06(group, alice, TS + 1, 'do bob' + bob),
          src: group,
          dst: alice,
          ts: TS + 1,
          text: 'do bob' + bob,
        },
      ]);
      // The sender's own copy, as the original client expects it.
      const bobPoll = (await legacyPoll(legacyPort, bob)).chunks.map((c) => c.toString('utf8'));
      expect(bobPoll[0]).toBe(legacy06(group, bob, TS + 1, 'do bob' + bob));
      // Then alice's receipt for the message she polled.
      expect(bobPoll.slice(1)).toEqual([
        expect.stringMatching(new RegExp(`^06${group}${bob}[0-9]{10}recebida${alice}$`)),
      ]);
    });
  });

  describe('between the two worlds', () => {
    it('keeps a v1 message to a legacy user pending until that user polls; the v1 sender then gets a v1 `recebida <ts>` pushed', async () => {
      const v1 = await register(t.port, 'v1 user');
      const session = await openSession(t.port, v1);
      open.push(session);
      const legacy = await legacyRegister(legacyPort);

      session.send({
        code: '05',
        src: v1.number,
        dst: legacy,
        ts: TS,
        flag: true,
        data: 'oi do v1 ✓',
      });
      expect(await session.next()).toMatchObject({
        code: '07',
        src: v1.number,
        dst: legacy,
        ts: TS,
      });

      const polled = await legacyPoll(legacyPort, legacy);
      expect(polled.bytes.toString('utf8')).toBe(legacy06(v1.number, legacy, TS, 'oi do v1 ✓'));

      // docs/protocol.md §Receipts: from the recipient, to the sender, flag 0, `recebida <ts of the message>`.
      expect(await session.next()).toMatchObject({
        code: '06',
        src: legacy,
        dst: v1.number,
        flag: false,
        data: `recebida ${ts10(TS)}`,
      });
      session.send({ code: '08', src: v1.number, data: '1' });
      // The receipt asked for nothing: the legacy user has nothing more.
      expect((await legacyPoll(legacyPort, legacy)).bytes.toString('latin1')).toBe('06');
      expect(await session.silentFor(200)).toBe(true);
    });

    it('sends no receipt to a v1 sender that did not ask for one (flag 0)', async () => {
      const v1 = await register(t.port);
      const session = await openSession(t.port, v1);
      open.push(session);
      const legacy = await legacyRegister(legacyPort);
      session.send({
        code: '05',
        src: v1.number,
        dst: legacy,
        ts: TS,
        flag: false,
        data: 'sem recibo',
      });
      expect(await session.next()).toMatchObject({ code: '07' });
      expect(await opaPoll(legacyPort, legacy)).toEqual([
        {
          raw: legacy06(v1.number, legacy, TS, 'sem recibo'),
          src: v1.number,
          dst: legacy,
          ts: TS,
          text: 'sem recibo',
        },
      ]);
      expect(await session.silentFor(300)).toBe(true);
    });

    it('pushes a legacy message to a v1 user in a push session at once, as a v1 `06` with flag 1; the ack sends `recebida` back to the legacy sender', async () => {
      const v1 = await register(t.port);
      const session = await openSession(t.port, v1);
      open.push(session);
      const legacy = await legacyRegister(legacyPort);

      await legacySend(legacyPort, legacy, v1.number, TS, 'oi do legado');
      expect(await session.next()).toEqual({
        code: '06',
        src: legacy,
        dst: v1.number,
        ts: TS,
        flag: true,
        data: 'oi do legado',
      });
      session.send({ code: '08', src: v1.number, data: '1' });

      // Give the ack time to commit, then the legacy sender polls its receipt (legacy form).
      let receipt = '';
      for (let i = 0; i < 20 && !receipt.includes('recebida'); i++) {
        await new Promise((r) => setTimeout(r, 50));
        receipt = (await legacyPoll(legacyPort, legacy)).bytes.toString('utf8');
      }
      expect(receipt).toMatch(new RegExp(`^06${v1.number}${legacy}[0-9]{10}recebida$`));
    });

    it('pushes a legacy receipt-like text (`Lidas`, `recebida`) with flag 0', async () => {
      const v1 = await register(t.port);
      const session = await openSession(t.port, v1);
      open.push(session);
      const legacy = await legacyRegister(legacyPort);
      await legacySend(legacyPort, legacy, v1.number, TS, 'Lidas 1');
      await legacySend(legacyPort, legacy, v1.number, TS, 'recebida');
      expect(await session.next()).toMatchObject({
        code: '06',
        src: legacy,
        flag: false,
        data: 'Lidas 1',
      });
      expect(await session.next()).toMatchObject({
        code: '06',
        src: legacy,
        flag: false,
        data: 'recebida',
      });
    });

    it('cuts a legacy text over 217 bytes at a character boundary for a v1 push session, flag 1', async () => {
      const v1 = await register(t.port);
      const session = await openSession(t.port, v1);
      open.push(session);
      const legacy = await legacyRegister(legacyPort);

      // 300 bytes of 2-byte characters: byte 217 falls inside the 109th.
      const accents = 'é'.repeat(150);
      // 215 bytes, then a 4-byte character that would end at byte 219.
      const emoji = 'x'.repeat(215) + '😀' + 'fim';
      await legacySend(legacyPort, legacy, v1.number, TS, accents);
      await legacySend(legacyPort, legacy, v1.number, TS + 1, emoji);

      const first = await session.next();
      expect(first).toMatchObject({ code: '06', src: legacy, dst: v1.number, ts: TS, flag: true });
      expect(first.data).toBe('é'.repeat(108));
      expect(Buffer.byteLength(first.data)).toBe(216);
      const second = await session.next();
      expect(second).toMatchObject({
        code: '06',
        src: legacy,
        dst: v1.number,
        ts: TS + 1,
        flag: true,
      });
      expect(second.data).toBe('x'.repeat(215));
    });
  });

  describe('invalid requests', () => {
    const invalidRequests: { name: string; request: string; halfClose: boolean }[] = [
      { name: 'an unknown code', request: '77' + '5511999990001', halfClose: false },
      { name: 'an unknown code, ended', request: '99', halfClose: true },
      { name: '01 with a byte too many', request: '01x', halfClose: false },
      {
        name: '19 with 12 digits (the client falls quiet)',
        request: '19' + '551199999000',
        halfClose: false,
      },
      { name: '19 with 14 digits', request: '19' + '55119999900012', halfClose: false },
      { name: '03 with a letter in the number', request: '03' + '551199999000x', halfClose: false },
      {
        name: '05 shorter than its fixed part',
        request: '05' + '5511999990001' + '55119',
        halfClose: true,
      },
      {
        name: '05 whose ts is not digits',
        request: '05' + '5511999990001' + '5511999990002' + '17000000ab' + 'oi',
        halfClose: true,
      },
      {
        name: '10 whose members are not whole numbers',
        request: '10' + ts10(TS) + '5511999990001' + '5511',
        halfClose: true,
      },
      { name: '10 with no member', request: '10' + ts10(TS), halfClose: true },
      { name: 'an empty request', request: '', halfClose: true },
      { name: 'a single byte', request: '0', halfClose: true },
    ];

    for (const { name, request, halfClose } of invalidRequests) {
      it(`closes ${name} without an answer, and keeps serving`, async () => {
        const answer = await legacyRequest(legacyPort, request, { halfClose });
        expect(answer.bytes.length).toBe(0);
        const next = await legacyRequest(legacyPort, '01');
        expect(next.bytes.toString('latin1')).toMatch(/^02[0-9]{13}$/);
      });
    }

    it('stores nothing for a refused 05', async () => {
      const alice = await legacyRegister(legacyPort);
      const bob = await legacyRegister(legacyPort);
      await legacyRequest(legacyPort, '05' + alice + bob + '17000000ab' + 'não', {
        halfClose: true,
      });
      await legacyRequest(legacyPort, '05' + alice + 'x' + bob.slice(1) + ts10(TS) + 'não', {
        halfClose: true,
      });
      expect((await legacyPoll(legacyPort, bob)).bytes.toString('latin1')).toBe('06');
    });
  });
});

describe('docs/protocol.md §Legacy listener under the limits of §Limits (no error answer: refused, logged at warn)', () => {
  let t: TestServer;
  let legacyPort: number;
  const logs = captureLogs('warn');
  const warnings = () => logs.lines().filter((line) => line.level === LEVEL.warn);

  beforeAll(async () => {
    t = await startTestServer({
      legacyPort: 0,
      rateLimit: 1,
      maxPendingPerRecipient: 3,
      logger: logs.logger,
    });
    legacyPort = t.server.legacyAddress!.port;
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('creates no group with a member that is not a registered user, like version 1', async () => {
    const alice = await legacyRegister(legacyPort);
    const unknown = alice === '9999999999999' ? '9999999999998' : '9999999999999';
    expect(
      (await legacyRequest(legacyPort, '10' + ts10(TS) + alice + unknown, { halfClose: true }))
        .bytes.length,
    ).toBe(0);
    // No notice: no group.
    expect((await legacyPoll(legacyPort, alice)).bytes.toString('latin1')).toBe('06');
    expect(warnings().some((line) => line.reason === `unknown member ${unknown}`)).toBe(true);
  });

  it('creates no group of more than 16 members, like version 1', async () => {
    const members = await Promise.all(Array.from({ length: 17 }, () => legacyRegister(legacyPort)));
    expect(
      (await legacyRequest(legacyPort, '10' + ts10(TS) + members.join(''), { halfClose: true }))
        .bytes.length,
    ).toBe(0);
    for (const member of [members[0]!, members[16]!])
      expect((await legacyPoll(legacyPort, member)).bytes.toString('latin1')).toBe('06');
    expect(warnings().some((line) => line.reason === 'at most 16 members')).toBe(true);
    // 16 are fine.
    await legacyRequest(legacyPort, '10' + ts10(TS) + members.slice(0, 16).join(''), {
      halfClose: true,
    });
    expect((await legacyPoll(legacyPort, members[15]!)).bytes.toString('latin1')).toMatch(
      /^06[0-9]{13}/,
    );
  });

  it('stores no 05 for a recipient that is full (maxPendingPerRecipient)', async () => {
    const bob = await legacyRegister(legacyPort);
    const senders = await Promise.all(Array.from({ length: 4 }, () => legacyRegister(legacyPort)));
    for (const [i, sender] of senders.entries())
      await legacySend(legacyPort, sender, bob, TS + i, `m${i}`);
    const polled = (await legacyPoll(legacyPort, bob)).chunks.map((c) => c.toString('utf8'));
    expect(polled).toEqual(
      senders.slice(0, 3).map((sender, i) => legacy06(sender, bob, TS + i, `m${i}`)),
    );
    expect(
      warnings().some(
        (line) => line.reason === `too many pending messages for ${bob} (maxPendingPerRecipient)`,
      ),
    ).toBe(true);
  });

  it("charges a 05 to its sender's rate (rateLimit), and a 05 to a group once per member", async () => {
    const [alice, bob, carol] = await Promise.all([
      legacyRegister(legacyPort),
      legacyRegister(legacyPort),
      legacyRegister(legacyPort),
    ]);
    // Bursts of 2: of four sent together, at most three are stored (one more may refill meanwhile).
    await Promise.all(
      Array.from({ length: 4 }, (_, i) => legacySend(legacyPort, alice, bob, TS + i, `r${i}`)),
    );
    const stored = (await legacyPoll(legacyPort, bob)).chunks.length;
    expect(stored).toBeGreaterThanOrEqual(2);
    expect(stored).toBeLessThan(4);
    expect(warnings().some((line) => line.reason === 'sending too fast (rateLimit)')).toBe(true);
    // A group of three stores three rows (the sender's copy included): more than carol's burst.
    await legacyRequest(legacyPort, '10' + ts10(TS) + carol + alice + bob, { halfClose: true });
    const notice = (await legacyPoll(legacyPort, carol)).bytes.toString('latin1');
    const group = notice.slice(2, 15);
    await legacySend(legacyPort, carol, group, TS, 'too many rows');
    expect((await legacyPoll(legacyPort, carol)).bytes.toString('latin1')).toBe('06');
  });
});

describe('docs/protocol.md §Legacy listener: off by default', () => {
  it('does not listen when legacyPort is not given', async () => {
    const t = await startTestServer();
    try {
      expect(t.server.legacyAddress).toBeUndefined();
      expect(t.server.options.legacyPort).toBeUndefined();
    } finally {
      await t.stop();
    }
  });
});

describe('docs/protocol.md §Legacy listener: `05` -> stored, no answer, close (in that order)', () => {
  // A broker that takes its time, so that "close before stored" cannot hide in a fast commit.
  const STORE_DELAY_MS = 300;
  let listener: LegacyListener;
  let port: number;
  const answeredAt = new Map<string, number>();

  beforeAll(async () => {
    const slowBroker = {
      ask(request: { op: string }, onResult: (result: Result) => void) {
        setTimeout(() => {
          answeredAt.set(request.op, Date.now());
          onResult({ ok: true, value: request.op === 'legacyFetch' ? [] : null });
        }, STORE_DELAY_MS);
      },
    } as unknown as BrokerClient;
    listener = new LegacyListener(
      slowBroker,
      { pollBatch: 100, legacyPaceMs: 30 },
      new Admission(0, 0, pino({ level: 'silent' })),
      pino({ level: 'silent' }),
    );
    listener.server.listen(0, '127.0.0.1');
    await new Promise((resolve) => listener.server.once('listening', resolve));
    port = (listener.server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => listener.server.close(resolve));
  });

  it('closes a half-closed 05 only after the store has answered', async () => {
    await legacyRequest(port, '05' + '5511999990001' + '5511999990002' + ts10(TS) + 'oi', {
      halfClose: true,
    });
    const closedAt = Date.now();
    expect(answeredAt.get('legacySend')).toBeDefined();
    expect(closedAt).toBeGreaterThanOrEqual(answeredAt.get('legacySend')!);
  });

  it('closes a half-closed 10 only after the store has answered', async () => {
    await legacyRequest(port, '10' + ts10(TS) + '5511999990001' + '5511999990002', {
      halfClose: true,
    });
    const closedAt = Date.now();
    expect(answeredAt.get('legacyCreateGroup')).toBeDefined();
    expect(closedAt).toBeGreaterThanOrEqual(answeredAt.get('legacyCreateGroup')!);
  });

  it('still answers a 03 whose client shut down its writing side after the request', async () => {
    const answer = await legacyRequest(port, '03' + '5511999990001', { halfClose: true });
    expect(answer.bytes.toString('latin1')).toBe('06');
  });
});
