/**
 * node dist/bench/hop-floor.js [--rate 10000] [--duration 4000] [--connections 1000] [--hops 0,2,4]
 *
 * The floor under zapwire's 05→06 latency: the same TCP in/out and batching
 * per turn, through N thread hops, with no SQL and no sessions. zapwire's push
 * path is 4 hops (main → sender's host → broker → recipient's host → main), so
 * the hops=4 line is the part of the push latency that is the hops themselves.
 *
 * One file, three roles: the client (parent: sends at a rate, records latency,
 * forks one relay per trial), the relay (`--relay <hops>`: a net server whose
 * main thread sends each turn's frames as one message through the worker
 * chain, main → w1 → … → wN → main, then writes each frame to its
 * destination), and the workers (`workerData` set: forward per turn).
 *
 * Frame (256 bytes): 0..3 destination connection (uint32 BE, accept order),
 * 4..11 send time (float64 performance.timeOrigin + now(), comparable across
 * processes), the rest zero.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { connect, createServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import {
  isMainThread,
  MessageChannel,
  type MessagePort,
  Worker,
  workerData,
} from 'node:worker_threads';
import { Command, InvalidArgumentError } from 'commander';
import { newHistogram, now } from './measure.js';

const FRAME = 256;
const self = fileURLToPath(import.meta.url);

type RelayRequest = { t: 'start' } | { t: 'stop' };
type RelayReply = { t: 'ready'; port: number } | { t: 'cpu'; percent: number };

/** Splits a byte stream into whole frames; keeps the partial tail between reads. */
function frameReader(onFrames: (frames: Buffer) => void): (chunk: Buffer) => void {
  let partial: Buffer | undefined;
  return (chunk) => {
    const data = partial ? Buffer.concat([partial, chunk]) : chunk;
    const whole = data.length - (data.length % FRAME);
    partial = whole < data.length ? data.subarray(whole) : undefined;
    if (whole > 0) onFrames(data.subarray(0, whole));
  };
}

/** Collects byte chunks during a turn and hands them on as one copied Uint8Array in setImmediate. */
function perTurn(flush: (batch: Uint8Array) => void): (chunk: Uint8Array) => void {
  let chunks: Uint8Array[] = [];
  let size = 0;
  return (chunk) => {
    if (chunks.length === 0) {
      setImmediate(() => {
        // A fresh, exact-size buffer: posting a pooled Buffer view would clone its whole pool slab.
        const batch = new Uint8Array(size);
        let at = 0;
        for (const c of chunks) {
          batch.set(c, at);
          at += c.length;
        }
        chunks = [];
        size = 0;
        flush(batch);
      });
    }
    chunks.push(chunk);
    size += chunk.length;
  };
}

// ---- worker: forward per turn --------------------------------------------------------------
function runWorker(): void {
  const { input, output } = workerData as { input: MessagePort; output: MessagePort };
  // No transferList: the batch is copied, as zapwire's hops copy.
  const forward = perTurn((batch) => output.postMessage(batch));
  input.on('message', (batch: Uint8Array) => forward(batch));
}

// ---- relay process ---------------------------------------------------------------------------
async function runRelay(hops: number): Promise<void> {
  const sockets: Socket[] = [];
  let pending = new Map<number, Buffer[]>();

  // Group by destination, then one write per destination socket.
  const route = (batch: Uint8Array): void => {
    const buf = Buffer.from(batch.buffer, batch.byteOffset, batch.byteLength);
    for (let at = 0; at + FRAME <= buf.length; at += FRAME) {
      const dest = buf.readUInt32BE(at);
      let list = pending.get(dest);
      if (!list) pending.set(dest, (list = []));
      list.push(buf.subarray(at, at + FRAME));
    }
  };
  const writeOut = (): void => {
    const out = pending;
    pending = new Map();
    for (const [dest, frames] of out)
      sockets[dest]?.write(frames.length === 1 ? frames[0]! : Buffer.concat(frames));
  };

  // hops=0: main routes and writes in the same turn it read.
  let toChain = (batch: Uint8Array): void => {
    route(batch);
    writeOut();
  };
  if (hops > 0) {
    // channels[0]: main → w1, channels[k]: wk → wk+1, channels[hops]: wN → main.
    const channels = Array.from({ length: hops + 1 }, () => new MessageChannel());
    const workers: Worker[] = [];
    for (let k = 1; k <= hops; k++) {
      const input = channels[k - 1]!.port2;
      const output = channels[k]!.port1;
      workers.push(
        new Worker(self, {
          eval: false,
          workerData: { input, output },
          transferList: [input, output],
        }),
      );
    }
    await Promise.all(workers.map((w) => new Promise((resolve) => w.once('online', resolve))));
    const head = channels[0]!.port1;
    toChain = (batch) => head.postMessage(batch);
    // The last worker may deliver several messages in one turn: still one write per socket per turn.
    let scheduled = false;
    channels[hops]!.port2.on('message', (batch: Uint8Array) => {
      route(batch);
      if (!scheduled) {
        scheduled = true;
        setImmediate(() => {
          scheduled = false;
          writeOut();
        });
      }
    });
  }

  const inbound = perTurn(toChain);
  const server = createServer({ noDelay: true }, (socket) => {
    sockets.push(socket); // index = accept order
    socket.on('data', frameReader(inbound));
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));

  const send = (reply: RelayReply) => process.send?.(reply);
  let cpu0 = process.cpuUsage();
  let t0 = performance.now();
  process.on('message', (req: RelayRequest) => {
    if (req.t === 'start') {
      cpu0 = process.cpuUsage();
      t0 = performance.now();
    } else {
      // cpuUsage covers all threads of the process: more than 100% means more than one core.
      const cpu = process.cpuUsage(cpu0);
      send({
        t: 'cpu',
        percent: ((cpu.user + cpu.system) / 1000 / (performance.now() - t0)) * 100,
      });
    }
  });
  process.on('disconnect', () => process.exit(0));
  const address = server.address();
  send({ t: 'ready', port: typeof address === 'object' && address ? address.port : 0 });
}

// ---- client (parent) -------------------------------------------------------------------------
function waitFor<T extends RelayReply['t']>(
  child: ChildProcess,
  t: T,
): Promise<Extract<RelayReply, { t: T }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: RelayReply) => {
      if (m.t !== t) return;
      child.off('message', onMessage).off('exit', onExit);
      resolve(m as Extract<RelayReply, { t: T }>);
    };
    const onExit = (code: number | null) =>
      reject(new Error(`relay exited (${code}) before '${t}'`));
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

async function trial(
  hops: number,
  rate: number,
  durationMs: number,
  connections: number,
): Promise<string> {
  const child = fork(self, ['--relay', String(hops)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const { port } = await waitFor(child, 'ready');
  const hist = newHistogram();
  let received = 0;
  let sent = 0;

  // Sequential connects: the relay's accept queue is FIFO, so accept index = connect order.
  const sockets: Socket[] = [];
  for (let i = 0; i < connections; i++) {
    const socket = connect({ port, host: '127.0.0.1', noDelay: true });
    await new Promise<void>((resolve, reject) =>
      socket.once('connect', resolve).once('error', reject),
    );
    socket.on('error', () => {});
    const onFrames = (frames: Buffer): void => {
      const t = now();
      for (let at = 0; at < frames.length; at += FRAME) {
        hist.recordValue(Math.max(1, Math.round((t - frames.readDoubleBE(at + 4)) * 1000)));
        received++;
      }
    };
    socket.on('data', frameReader(onFrames));
    sockets.push(socket);
  }
  await new Promise((resolve) => setTimeout(resolve, 300)); // let the relay accept them all

  child.send({ t: 'start' } satisfies RelayRequest);
  const t0 = performance.now();
  let cursor = 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsed = Math.min(performance.now() - t0, durationMs);
      const due = Math.floor((elapsed * rate) / 1000) - sent;
      if (due > 0) {
        sent += due;
        // Spread over the sockets, one write each; rotate so the remainder doesn't favour the first ones.
        const per = Math.floor(due / sockets.length);
        let extra = due - per * sockets.length;
        for (let i = 0; i < sockets.length; i++) {
          const n = per + (extra > 0 ? 1 : 0);
          if (n === 0) break; // only the first `extra` in rotation order get one when per is 0
          if (extra > 0) extra--;
          const buf = Buffer.alloc(n * FRAME);
          const ts = now();
          for (let f = 0; f < n; f++) {
            buf.writeUInt32BE(Math.floor(Math.random() * connections), f * FRAME);
            buf.writeDoubleBE(ts, f * FRAME + 4);
          }
          sockets[(cursor + i) % sockets.length]!.write(buf);
        }
        cursor = (cursor + due) % sockets.length;
      }
      if (elapsed >= durationMs) {
        clearInterval(timer);
        resolve();
      }
    }, 1);
  });
  // Up to 2 s for the last frames; whatever hasn't come back by then counts as lost.
  const end = performance.now() + 2_000;
  while (received < sent && performance.now() < end)
    await new Promise((resolve) => setTimeout(resolve, 5));

  child.send({ t: 'stop' } satisfies RelayRequest);
  const { percent } = await waitFor(child, 'cpu');
  for (const s of sockets) s.destroy();
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill();
  await exited;

  const ms = (p: number) => (hist.getValueAtPercentile(p) / 1000).toFixed(2).padStart(7);
  return (
    `hops ${hops} | sent ${sent} | received ${received} | lost ${sent - received} | ` +
    `p50 ${ms(50)} ms | p95 ${ms(95)} ms | p99 ${ms(99)} ms | max ${(hist.maxValue / 1000).toFixed(2).padStart(7)} ms | relay cpu ${percent.toFixed(0)}%`
  );
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('a positive integer');
  return n;
}

async function runClient(): Promise<void> {
  const opts = new Command('hop-floor')
    .description('latency floor of TCP in → N worker-thread hops → TCP out, batched per turn')
    .option('--rate <n>', 'frames per second, total', positiveInt, 10_000)
    .option('--duration <ms>', 'send duration per trial', positiveInt, 4_000)
    .option('--connections <n>', 'client connections (also the destinations)', positiveInt, 1_000)
    .option(
      '--hops <list>',
      'comma-separated hop counts, one trial each',
      (v) => {
        const list = v.split(',').map((s) => Number(s.trim()));
        if (list.some((n) => !Number.isInteger(n) || n < 0))
          throw new InvalidArgumentError('comma-separated non-negative integers');
        return list;
      },
      [0, 2, 4],
    )
    .parse()
    .opts<{ rate: number; duration: number; connections: number; hops: number[] }>();
  console.log(
    `rate ${opts.rate}/s, duration ${opts.duration} ms, ${opts.connections} connections, ${FRAME}-byte frames`,
  );
  for (const hops of opts.hops)
    console.log(await trial(hops, opts.rate, opts.duration, opts.connections));
}

if (!isMainThread) runWorker();
else if (process.argv[2] === '--relay')
  runRelay(Number(process.argv[3])).catch((err: unknown) => (console.error(err), process.exit(1)));
else
  runClient().then(
    () => process.exit(0),
    (err: unknown) => (console.error(err), process.exit(1)),
  );
