/**
 * The piscina task that hosts sessions: a long-lived task holding two
 * transferred MessagePorts (MEASUREMENTS.md: works as a session host). It
 * resolves when the host ends, which frees the thread.
 */
import type { Logger } from 'pino';
import { createLogger } from '../logger.js';
import type { HostTask } from '../thread-messages.js';
import { SessionHost } from './session-host.js';

let threadLogger: Logger | undefined;

export default function hostSessions(task: HostTask): Promise<void> {
  threadLogger ??= createLogger({ level: task.options.logLevel });
  const host = new SessionHost(task, threadLogger.child({ host: task.hostId }));
  return host.finished;
}
