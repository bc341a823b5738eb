/**
 * The piscina task that hosts sessions: a long-lived task holding two
 * transferred MessagePorts (measured on the 2-vCPU machine: 1,000 sessions
 * over 2 such threads echo with p50 43-88 µs). It
 * resolves when the host ends, which frees the thread.
 */
import type { Logger } from 'pino';
import { createLogger } from '../logger.js';
import { HostMetrics } from '../metrics/metrics.js';
import { LogForwarder } from '../threads/log-forwarder.js';
import type { HostOutbound, HostTask } from '../threads/thread-messages.js';
import { SessionHost } from './session-host.js';

// DESIGN.md §Observability: this thread's log lines go to the main thread's
// root logger, through whichever host this thread runs now (one at a time).
const forwarder = new LogForwarder();
let threadLogger: Logger | undefined;

export default function hostSessions(task: HostTask): Promise<void> {
  threadLogger ??= createLogger({ level: task.options.logLevel, destination: forwarder });
  // A registry per host, not per thread: a retired host's final totals are
  // kept by the main thread, and the next host on this thread starts from 0.
  const host = new SessionHost(
    task,
    threadLogger.child({ host: task.hostId }),
    new HostMetrics(`host-${task.hostId}`),
  );
  forwarder.target = (lines) => host.forwardLog(lines);
  host.onEnd = () => {
    forwarder.flush();
    forwarder.target = undefined;
  };
  // Posted straight on the port, ahead of anything the host batches: in
  // thread-per-client mode the pool hands a client only to a host that said it
  // runs, never to one whose thread is still starting (DESIGN.md §Thread models).
  task.mainPort.postMessage([{ t: 'ready' }] satisfies HostOutbound[]);
  return host.finished;
}
