import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Connection, type ConnectionSettings, duration } from '../../../src/client/connection.js';
import { ConnectionError, NotFoundError, type ZapwireError } from '../../../src/errors.js';
import {
  decodeFrame,
  encodeFrame,
  type Frame,
  type FrameInit,
  FrameSplitter,
} from '../../../src/protocol/index.js';

/**
 * The connection against a scripted fake server on 127.0.0.1:0: exactly which
 * frames the client writes (the cumulative 08 and when), with no real server.
 */

const ME = '1111111111111';
const BOB = '2222222222222';

interface Fake {
  port: number;
  /** Frames the client wrote, in order. */
  frames: Frame[];
  socket(): Socket;
  write(...inits: FrameInit[]): void;
}

const servers: Server[] = [];
const connections: Connection[] = [];
afterEach(async () => {
  for (const c of connections.splice(0)) c.destroy(new ConnectionError('test over'));
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A server that answers 04 with ok and records every frame. */
async function fake(onFrame?: (frame: Frame, fake: Fake) => void): Promise<Fake> {
  let current: Socket | undefined;
  const f: Fake = {
    port: 0,
    frames: [],
    socket: () => current!,
    write: (...inits) => current!.write(Buffer.concat(inits.map((i) => encodeFrame(i)))),
  };
  const server = createServer((socket) => {
    current = socket;
    const splitter = new FrameSplitter();
    socket.on('data', (chunk: Buffer) =>
      splitter.push(chunk, (raw) => {
        const frame = decodeFrame(Buffer.from(raw));
        f.frames.push(frame);
        if (frame.code === '04') socket.write(encodeFrame({ code: '04', data: 'ok' }));
        onFrame?.(frame, f);
      }),
    );
    socket.on('error', () => {});
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  f.port = (server.address() as { port: number }).port;
  return f;
}

function settings(port: number, overrides: Partial<ConnectionSettings> = {}): ConnectionSettings {
  return {
    host: '127.0.0.1',
    port,
    connectTimeoutMs: 2_000,
    requestTimeoutMs: 2_000,
    ackDelayMs: 20,
    ackEvery: 64,
    ...overrides,
  };
}

/** `delivery` returns false for a frame it does not take; anything else takes it. */
async function open(
  f: Fake,
  overrides: Partial<ConnectionSettings> = {},
  delivery: (frame: Frame, conn: Connection) => unknown = () => {},
) {
  const closed: (ZapwireError | undefined)[] = [];
  let conn!: Connection;
  conn = await Connection.open(settings(f.port, overrides), {
    delivery: (frame) => delivery(frame, conn) !== false,
    closed: (error) => closed.push(error),
  });
  connections.push(conn);
  await conn.openSession(ME, 'token', true);
  return { conn, closed };
}

const deliver = (i: number): FrameInit => ({
  code: '06',
  src: BOB,
  dst: ME,
  ts: 1_700_000_000 + i,
  flag: true,
  data: `m${i}`,
});
const acks = (f: Fake) => f.frames.filter((x) => x.code === '08').map((x) => x.data);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 3_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

describe('Connection acknowledgements', () => {
  it('sends one cumulative 08 for a burst, after ackDelayMs', async () => {
    const f = await fake();
    const got: string[] = [];
    await open(f, { ackDelayMs: 80 }, (frame) => got.push(frame.data));
    f.write(deliver(1), deliver(2), deliver(3), deliver(4), deliver(5));
    await until(() => got.length === 5, 'the deliveries');
    await sleep(30);
    expect(acks(f)).toEqual([]);
    await until(() => acks(f).length > 0, 'the ack');
    expect(acks(f)).toEqual(['5']);
    expect(f.frames.at(-1)).toMatchObject({ code: '08', src: ME });
  });

  it('acknowledges at once every ackEvery frames', async () => {
    const f = await fake();
    await open(f, { ackDelayMs: 60_000, ackEvery: 2 });
    f.write(deliver(1), deliver(2), deliver(3), deliver(4), deliver(5));
    await until(() => acks(f).length === 2, 'two acks');
    await sleep(30);
    expect(acks(f)).toEqual(['2', '4']);
  });

  it('counts a frame only once its handler has returned', async () => {
    const f = await fake();
    // Flushing from inside the handler acknowledges the frames before this one, never this one.
    await open(f, { ackDelayMs: 10 }, (_frame, conn) => conn.flushAck());
    f.write(deliver(1), deliver(2), deliver(3));
    await until(() => acks(f).includes('3'), 'the last ack');
    expect(acks(f)).toEqual(['1', '2', '3']);
  });

  it('acknowledges nothing from a frame not taken on: later frames are neither delivered nor counted', async () => {
    const f = await fake((frame, fk) => {
      if (frame.code === '08') fk.socket().end();
    });
    const got: string[] = [];
    const { conn, closed } = await open(f, { ackDelayMs: 60_000 }, (frame) => {
      got.push(frame.data);
      return frame.data !== 'm3';
    });
    f.write(deliver(1), deliver(2), deliver(3), deliver(4), deliver(5));
    await until(() => got.length === 3, 'the deliveries up to the one not taken');
    await sleep(30);
    expect(got).toEqual(['m1', 'm2', 'm3']);
    const reason = new ConnectionError('not taken');
    await conn.end(reason);
    // The cumulative 08 covers m1 and m2 only: the server sends m3, m4 and m5 again next session.
    expect(acks(f)).toEqual(['2']);
    expect(closed).toEqual([reason]);
    expect(conn.closeError).toBe(reason);
  });

  it('holds frames back (not delivered, not acknowledged) until released', async () => {
    const f = await fake();
    const got: string[] = [];
    const closed: unknown[] = [];
    const conn = await Connection.open(settings(f.port, { ackDelayMs: 5 }), {
      delivery: (x) => got.push(x.data) > 0,
      closed: (e) => closed.push(e),
    });
    connections.push(conn);
    conn.hold();
    await conn.openSession(ME, 'token', true);
    f.write(deliver(1), deliver(2));
    await sleep(50);
    expect(got).toEqual([]);
    expect(acks(f)).toEqual([]);
    conn.release();
    expect(got).toEqual(['m1', 'm2']);
    await until(() => acks(f).length === 1, 'the ack');
    expect(acks(f)).toEqual(['2']);
  });

  it('acknowledges on end(), then closes cleanly', async () => {
    const f = await fake((frame, fk) => {
      if (frame.code === '08') fk.socket().end();
    });
    const { conn, closed } = await open(f, { ackDelayMs: 60_000 });
    f.write(deliver(1));
    await sleep(30);
    await conn.end();
    expect(acks(f)).toEqual(['1']);
    expect(closed).toEqual([undefined]);
  });
});

describe('Connection requests', () => {
  it('matches pipelined answers in order, with pushes and a 09 between them', async () => {
    const f = await fake((frame, fk) => {
      if (frame.code !== '05') return;
      if (frame.data === 'two')
        fk.write(deliver(9), {
          code: '09',
          src: ME,
          dst: frame.dst,
          ts: frame.ts,
          data: '404 unknown destination',
        });
      else
        fk.write({
          code: '07',
          src: ME,
          dst: frame.dst,
          ts: frame.ts,
          data: frame.data === 'one' ? '1' : '3',
        });
    });
    const got: string[] = [];
    const { conn } = await open(f, {}, (x) => got.push(x.data));
    const [one, two, three] = conn.requestMany(
      ['one', 'two', 'three'].map(
        (data) => ({ code: '05', src: ME, dst: BOB, ts: 1, data }) as const,
      ),
      '07',
    );
    expect((await one!).data).toBe('1');
    await expect(two!).rejects.toBeInstanceOf(NotFoundError);
    expect((await three!).data).toBe('3');
    expect(got).toEqual(['m9']);
  });

  it('rejects what cannot be encoded without writing anything', async () => {
    const f = await fake();
    const { conn } = await open(f);
    await expect(
      conn.request({ code: '05', src: ME, dst: BOB, data: 'x'.repeat(218) }, '07'),
    ).rejects.toMatchObject({ status: 400 });
    await sleep(20);
    expect(f.frames.map((x) => x.code)).toEqual(['04']);
  });

  it('ends the connection when a request gets no answer in time', async () => {
    const f = await fake();
    // Long enough that the 04 of open() is answered in time even on a loaded machine.
    const { conn, closed } = await open(f, { requestTimeoutMs: 1_000 });
    const err = await conn
      .request({ code: '19', src: ME, dst: BOB }, '20')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as Error).message).toMatch(/^no answer to 19 from 127\.0\.0\.1:\d+ in 1 s$/);
    await until(() => closed.length === 1, 'the close');
  });

  it('calls a server that accepted but never said a word unreached', async () => {
    const accepted: Socket[] = [];
    const silent = createServer((socket) => {
      accepted.push(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    const conn = await Connection.open(settings(port, { requestTimeoutMs: 50 }), {
      delivery: () => true,
      closed: () => {},
    });
    connections.push(conn);
    const err = await conn.openSession(ME, 'token', true).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as Error).message).toBe(`cannot reach 127.0.0.1:${port} (no answer in 50 ms)`);
    for (const socket of accepted) socket.destroy();
    await new Promise((r) => silent.close(r));
  });

  it('says time limits as people do', () => {
    expect([250, 1_000, 1_500, 5_000, 30_000].map(duration)).toEqual([
      '250 ms',
      '1 s',
      '1.5 s',
      '5 s',
      '30 s',
    ]);
  });

  it('ends the connection on a malformed frame from the server', async () => {
    const f = await fake();
    const { conn, closed } = await open(f);
    const pending = conn.request({ code: '19', src: ME, dst: BOB }, '20');
    f.socket().write(Buffer.alloc(256, 0x41));
    await expect(pending).rejects.toBeInstanceOf(ConnectionError);
    await until(() => closed.length === 1, 'the close');
    expect((closed[0] as Error).message).toMatch(/malformed frame/);
  });

  it('ends the connection when the server answers with the wrong code', async () => {
    const f = await fake((frame, fk) => {
      if (frame.code === '19') fk.write({ code: '07' });
    });
    const { conn, closed } = await open(f);
    await expect(conn.request({ code: '19', src: ME, dst: BOB }, '20')).rejects.toThrow(
      /07 where 20 was expected/,
    );
    await until(() => closed.length === 1, 'the close');
  });

  it('reports a server that is not there as a ConnectionError naming ECONNREFUSED', async () => {
    const f = await fake();
    const port = f.port;
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
    const err = await Connection.open(settings(port), {
      delivery: () => true,
      closed: () => {},
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as Error).message).toBe(
      `cannot reach 127.0.0.1:${port} (connection refused: ECONNREFUSED)`,
    );
  });
});
