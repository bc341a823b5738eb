/**
 * The seed workload's client (child_process.fork): the original client's way
 * of talking to its server, as test/fixtures/opa_client.py mirrors it and as
 * the original drove it with 16 threads. Every request is a TCP connection of
 * its own: connect, write the request, (for a `05`) shut down the writing
 * side, read until the server closes. `clients` loops run side by side, each
 * starting its next request when its last one has closed (closed loop, like
 * the original's threads).
 *
 * Every message text is TEXT_BYTES of ASCII, so that a poll's bytes split
 * into whole `06` frames even when two of them arrive in one read (with
 * --legacy-pace-ms 0 they do; the original client would have garbled them).
 */
import { connect, type Socket } from 'node:net';
import hdr from 'hdr-histogram-js';
import { NUMBER_LENGTH, TS_LENGTH, tsField } from '../src/protocol/frame.js';
import { LegacyCode } from '../src/protocol/legacy.js';
import { replyToParent } from './child.js';
import type { SeedPair, SeedPolls, SeedReply, SeedRequest, SeedSends } from './ipc.js';
import { newHistogram, now } from './measure.js';

/** A message text: `seed ` + its sequence number, padded with spaces. */
const TEXT_PREFIX = 'seed ';
const TEXT_BYTES = 32;
const FRAME_BYTES = LegacyCode.Deliver.length + 2 * NUMBER_LENGTH + TS_LENGTH + TEXT_BYTES;
/** A request the server has not closed by then is given up on (an error), as the listener's own idle timeout would. */
const REQUEST_TIMEOUT_MS = 15_000;

const reply: (message: SeedReply) => void = replyToParent;

/** For the progress line: requests completed, rows read, connections open. */
let sent = 0;
let received = 0;
let open = 0;
let seq = 0;
/** Every socket open, to destroy on close. */
const sockets = new Set<Socket>();

/** One connection: writes `request`, reads until the server closes, returns what it read. */
function exchange(port: number, request: Buffer, halfClose: boolean): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect({ port, host: '127.0.0.1', noDelay: true });
    sockets.add(socket);
    open++;
    socket.setTimeout(REQUEST_TIMEOUT_MS, () =>
      socket.destroy(new Error(`no close within ${REQUEST_TIMEOUT_MS} ms`)),
    );
    // One write, as the original's sendall; a 05 then shuts down the writing side as the original's tell() did.
    if (halfClose) socket.end(request);
    else socket.write(request);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', (hadError) => {
      sockets.delete(socket);
      open--;
      if (!hadError) resolve(Buffer.concat(chunks));
    });
  });
}

const ts10 = () => tsField(Math.floor(Date.now() / 1000));

function sendRequest(pair: SeedPair): Buffer {
  const text = `${TEXT_PREFIX}${++seq}`.padEnd(TEXT_BYTES, ' ');
  return Buffer.from(LegacyCode.Send + pair.src + pair.dst + ts10() + text, 'latin1');
}

/** Runs `clients` loops of `one` until it returns false; resolves when every loop has ended. */
async function loops(clients: number, one: () => Promise<boolean>): Promise<void> {
  const loop = async () => {
    while (await one());
  };
  await Promise.all(Array.from({ length: clients }, loop));
}

const micros = (ms: number) => Math.max(1, Math.round(ms * 1000));

async function register(
  port: number,
  count: number,
  clients: number,
): Promise<{ numbers: string[]; errors: number }> {
  const numbers: string[] = [];
  let errors = 0;
  let started = 0;
  await loops(clients, async () => {
    if (started >= count) return false;
    started++;
    try {
      const answer = (
        await exchange(port, Buffer.from(LegacyCode.Register, 'latin1'), false)
      ).toString('latin1');
      if (
        answer.length === LegacyCode.Registered.length + NUMBER_LENGTH &&
        answer.startsWith(LegacyCode.Registered)
      )
        numbers.push(answer.slice(LegacyCode.Registered.length));
      else errors++;
    } catch {
      errors++;
    }
    return true;
  });
  return { numbers, errors };
}

async function sends(
  port: number,
  pairs: SeedPair[],
  clients: number,
  durationMs: number,
): Promise<SeedSends> {
  const latency = newHistogram();
  let count = 0;
  let errors = 0;
  let next = 0;
  const t0 = now();
  const deadline = t0 + durationMs;
  await loops(clients, async () => {
    if (now() >= deadline) return false;
    const request = sendRequest(pairs[next++ % pairs.length]!);
    const start = now();
    try {
      await exchange(port, request, true);
      latency.recordValue(micros(now() - start));
      count++;
      sent++;
    } catch {
      errors++;
    }
    return true;
  });
  return {
    sends: count,
    errors,
    elapsedMs: Math.round(now() - t0),
    latency: hdr.encodeIntoCompressedBase64(latency),
  };
}

/** The rows in one poll's bytes, or undefined when they are not whole `06` frames of this workload's messages to `number`. */
function rowsIn(bytes: Buffer, number: string): number | undefined {
  if (bytes.length === 0 || bytes.length % FRAME_BYTES !== 0) return undefined;
  const dstAt = LegacyCode.Deliver.length + NUMBER_LENGTH;
  const textAt = dstAt + NUMBER_LENGTH + TS_LENGTH;
  for (let at = 0; at < bytes.length; at += FRAME_BYTES) {
    if (bytes.toString('latin1', at, at + LegacyCode.Deliver.length) !== LegacyCode.Deliver)
      return undefined;
    if (bytes.toString('latin1', at + dstAt, at + dstAt + NUMBER_LENGTH) !== number)
      return undefined;
    if (bytes.toString('latin1', at + textAt, at + textAt + TEXT_PREFIX.length) !== TEXT_PREFIX)
      return undefined;
  }
  return bytes.length / FRAME_BYTES;
}

async function polls(
  port: number,
  numbers: string[],
  clients: number,
  durationMs: number,
): Promise<SeedPolls> {
  const latency = newHistogram();
  const queue = [...numbers];
  /** Polls under way: each may put its number back, so a loop finding the queue empty waits for them. */
  let inFlight = 0;
  let wake: (() => void)[] = [];
  const settled = () => {
    for (const w of wake.splice(0)) w();
  };
  let count = 0;
  let rows = 0;
  let empty = 0;
  let malformed = 0;
  let errors = 0;
  const t0 = now();
  const deadline = t0 + durationMs;
  await loops(clients, async () => {
    if (now() >= deadline) return false;
    const number = queue.shift();
    if (number === undefined) {
      if (inFlight === 0) return false;
      await new Promise<void>((resolve) => wake.push(resolve));
      return true;
    }
    inFlight++;
    let again = true;
    const start = now();
    try {
      const bytes = await exchange(port, Buffer.from(LegacyCode.Poll + number, 'latin1'), false);
      latency.recordValue(micros(now() - start));
      count++;
      if (bytes.toString('latin1') === LegacyCode.Deliver) {
        empty++;
        again = false; // drained
      } else {
        const n = rowsIn(bytes, number);
        if (n === undefined) malformed++;
        else {
          rows += n;
          received += n;
        }
      }
    } catch {
      errors++;
    }
    // A poll brings at most pollBatch rows: more may be pending.
    if (again) queue.push(number);
    inFlight--;
    settled();
    return true;
  });
  wake = [];
  return {
    polls: count,
    rows,
    empty,
    malformed,
    errors,
    drainedAll: queue.length === 0,
    elapsedMs: Math.round(now() - t0),
    latency: hdr.encodeIntoCompressedBase64(latency),
  };
}

process.on('message', (message: SeedRequest) => {
  void (async () => {
    try {
      switch (message.t) {
        case 'register':
          reply({
            t: 'registered',
            rid: message.rid,
            ...(await register(message.port, message.count, message.clients)),
          });
          break;
        case 'sends':
          reply({
            t: 'sent',
            rid: message.rid,
            result: await sends(message.port, message.pairs, message.clients, message.durationMs),
          });
          break;
        case 'polls':
          reply({
            t: 'polled',
            rid: message.rid,
            result: await polls(message.port, message.numbers, message.clients, message.durationMs),
          });
          break;
        case 'close':
          for (const s of sockets) s.destroy();
          reply({ t: 'done', rid: message.rid });
          break;
      }
    } catch (err) {
      reply({
        t: 'failed',
        rid: message.rid,
        message: err instanceof Error ? err.message : String(err),
      });
    }
  })();
});

setInterval(() => reply({ t: 'progress', received, sent, stored: 0, open }), 500).unref();
process.on('disconnect', () => process.exit(0));
