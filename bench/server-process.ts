/**
 * The server under test, in a process of its own (child_process.fork), so
 * that its CPU time and RSS are its own. It answers IPC requests: start with
 * the scenario's options, sample its counters, stop.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { ZapwireServer } from '../src/server/server.js';
import { replyToParent } from './child.js';
import type { ServerReply, ServerRequest, ServerSample } from './ipc.js';

let server: ZapwireServer | undefined;
/** The threads of this process before the server started. */
let threadsBefore = new Set<number>();

const reply: (message: ServerReply) => void = replyToParent;

async function sample(): Promise<ServerSample> {
  const stats = await server!.stats();
  const cpu = process.cpuUsage();
  return {
    at: performance.timeOrigin + performance.now(),
    stats,
    cpuUser: cpu.user,
    cpuSystem: cpu.system,
    rss: process.memoryUsage.rss(),
    sessions: server!.sessions,
  };
}

function threadIds(): number[] {
  try {
    return readdirSync('/proc/self/task').map(Number);
  } catch {
    return []; // not Linux: per-thread CPU is not measured
  }
}

/**
 * The threads that start created and that have run JavaScript: a Worker
 * boots an isolate and loads its modules (tens of ms on CPU), while the other
 * threads it may start (libuv's pool) have run for well under a millisecond.
 * In creation order (tids grow). Asked for once the server has run a while:
 * a Worker still booting when start() resolves may not have run 10 ms yet.
 */
function jsThreadsSince(before: Set<number>): number[] {
  const ran = (tid: number) => {
    try {
      return Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'latin1').split(' ')[0]);
    } catch {
      return 0;
    }
  };
  return threadIds()
    .filter((tid) => !before.has(tid) && ran(tid) > 10_000_000)
    .sort((a, b) => a - b);
}

process.on('message', (message: ServerRequest) => {
  void (async () => {
    try {
      switch (message.t) {
        case 'start':
          threadsBefore = new Set(threadIds());
          server = await ZapwireServer.start({
            logLevel: 'error',
            ...message.options,
            host: '127.0.0.1',
            port: 0,
          });
          reply({
            t: 'ready',
            rid: message.rid,
            port: server.address.port,
            httpPort: server.httpAddress?.port,
            legacyPort: server.legacyAddress?.port,
          });
          break;
        case 'threads':
          reply({ t: 'threads', rid: message.rid, jsThreads: jsThreadsSince(threadsBefore) });
          break;
        case 'sample':
          reply({ t: 'sample', rid: message.rid, sample: await sample() });
          break;
        case 'stop':
          await server?.close();
          reply({ t: 'stopped', rid: message.rid });
          setTimeout(() => process.exit(0), 50);
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

// The parent going away must not leave a server behind.
process.on('disconnect', () => process.exit(0));
