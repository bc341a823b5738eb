import { Command, Option } from 'commander';
import { OptionError } from '../errors.js';
import {
  DEFAULT_DB_PATH,
  DEFAULT_OPTIONS,
  resolveServerOptions,
  type ServerOptions,
} from '../server/config.js';
import { ZapwireServer } from '../server/server.js';
import { parseInteger, parseList } from './options.js';

/** What commander parses: ServerOptions' own names, but `db` for dbPath and strings for the choices. */
type ServeFlags = Omit<
  ServerOptions,
  'dbPath' | 'threads' | 'maxConnections' | 'synchronous' | 'logLevel' | 'wsOrigins'
> & {
  wsOrigins?: string[];
  db: string;
  threads?: number;
  maxConnections?: number;
  synchronous: string;
  logLevel: string;
};

/** The limits of docs/protocol.md §Limits, as flags (README §Limits): [ServerOptions key, flag, what it bounds]. */
const LIMIT_FLAGS = [
  [
    'groupRateLimit',
    '--group-rate-limit <n>',
    '10 (create group) per second per number (0 = no limit)',
  ],
  [
    'maxPendingPerRecipient',
    '--max-pending-per-recipient <n>',
    'pending messages one recipient may have; more is refused 429 (0 = no limit)',
  ],
  [
    'registerRate',
    '--register-rate <n>',
    'registrations per second per source address (0 = no limit)',
  ],
  ['registerBurst', '--register-burst <n>', 'registrations in a burst per source address'],
  [
    'authFailuresPerMinute',
    '--auth-failures-per-minute <n>',
    'failed authentications per minute per source address; then 429 (0 = no limit)',
  ],
  [
    'maxInflight',
    '--max-inflight <n>',
    'frames (or HTTP requests) of one connection waiting for the server before it is not read further',
  ],
  [
    'anonymousTimeoutMs',
    '--anonymous-timeout-ms <n>',
    'an anonymous v1 connection idle this long gets 09 408 and is closed (0 = never)',
  ],
  [
    'maxConnectionsPerAddress',
    '--max-connections-per-address <n>',
    'open connections from one source address, all listeners (0 = no cap)',
  ],
  [
    'httpHeadersTimeoutMs',
    '--http-headers-timeout-ms <n>',
    "HTTP: time for a request's headers to arrive",
  ],
  [
    'httpRequestTimeoutMs',
    '--http-request-timeout-ms <n>',
    'HTTP: time for a whole request to arrive',
  ],
  [
    'httpKeepAliveTimeoutMs',
    '--http-keep-alive-timeout-ms <n>',
    'HTTP: an idle keep-alive connection is closed after this',
  ],
] as const;

function envName(key: string): string {
  return 'ZAPWIRE_' + key.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase();
}

export function serveCommand(): Command {
  const d = DEFAULT_OPTIONS;
  const command = new Command('serve')
    .description(
      'run the zapwire server (protocol v1; legacy listener when --legacy-port is given)',
    )
    .addOption(
      new Option('--host <address>', 'interface to listen on').env('ZAPWIRE_HOST').default(d.host),
    )
    .addOption(
      new Option('--port <n>', 'protocol v1 port (0 picks a free one)')
        .env('ZAPWIRE_PORT')
        .default(d.port)
        .argParser(parseInteger),
    )
    .addOption(
      new Option('--db <path>', 'SQLite database file').env('ZAPWIRE_DB').default(DEFAULT_DB_PATH),
    )
    .addOption(
      new Option(
        '--legacy-port <n>',
        'port of the legacy listener (off unless given; the original used 5000)',
      )
        .env('ZAPWIRE_LEGACY_PORT')
        .argParser(parseInteger),
    )
    .addOption(
      new Option(
        '--http-port <n>',
        'port of the HTTP API, /metrics and /healthz (off unless given; 0 picks a free one)',
      )
        .env('ZAPWIRE_HTTP_PORT')
        .argParser(parseInteger),
    )
    .addOption(
      new Option(
        '--threads <n>',
        'worker threads hosting sessions; 0: the sessions run on the broker thread (default: cores, or 1024 with --sessions-per-thread 1)',
      )
        .env('ZAPWIRE_THREADS')
        .argParser(parseInteger),
    )
    .addOption(
      new Option(
        '--sessions-per-thread <n>',
        'sessions one thread hosts; 1 = a dedicated thread per client',
      )
        .env('ZAPWIRE_SESSIONS_PER_THREAD')
        .default(d.sessionsPerThread)
        .argParser(parseInteger),
    )
    .addOption(
      new Option('--poll-batch <n>', 'most messages one 03 answers with')
        .env('ZAPWIRE_POLL_BATCH')
        .default(d.pollBatch)
        .argParser(parseInteger),
    )
    .addOption(
      new Option('--synchronous <mode>', 'SQLite synchronous mode')
        .env('ZAPWIRE_SYNCHRONOUS')
        .choices(['normal', 'full'])
        .default(d.synchronous),
    )
    .addOption(
      new Option('--log-level <level>', 'log level')
        .env('ZAPWIRE_LOG_LEVEL')
        .choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
        .default(d.logLevel),
    )
    .addOption(
      new Option('--push-window <n>', 'unacknowledged pushes in flight per session')
        .env('ZAPWIRE_PUSH_WINDOW')
        .default(d.pushWindow)
        .argParser(parseInteger),
    )
    .addOption(
      new Option(
        '--rate-limit <n>',
        'messages stored per second per number, all its sessions and HTTP; a group message counts per member (0 = no limit)',
      )
        .env('ZAPWIRE_RATE_LIMIT')
        .default(d.rateLimit)
        .argParser(parseInteger),
    )
    .addOption(
      new Option('--legacy-pace-ms <n>', 'pause between two 06 on the legacy listener')
        .env('ZAPWIRE_LEGACY_PACE_MS')
        .default(d.legacyPaceMs)
        .argParser(parseInteger),
    )
    .addOption(
      new Option(
        '--commit-window-ms <n>',
        'extra wait to gather a larger group commit (0 = every loop turn)',
      )
        .env('ZAPWIRE_COMMIT_WINDOW_MS')
        .default(d.commitWindowMs)
        .argParser(parseInteger),
    )
    .addOption(
      new Option('--max-connections <n>', 'open connections, all listeners (0 = no cap)')
        .env('ZAPWIRE_MAX_CONNECTIONS')
        .default(undefined, 'the open-file limit less a tenth (at least 256)')
        .argParser(parseInteger),
    )
    .addOption(
      new Option(
        '--ws-origins <list>',
        'comma-separated origins a browser page may open /v1/ws from; another gets 403 (default: any)',
      )
        .env('ZAPWIRE_WS_ORIGINS')
        .argParser(parseList),
    )
    .addOption(
      new Option(
        '--ws-max-payload <bytes>',
        'largest WebSocket message taken; larger closes (1009)',
      )
        .env('ZAPWIRE_WS_MAX_PAYLOAD')
        .default(d.wsMaxPayload)
        .argParser(parseInteger),
    )
    .addOption(
      new Option(
        '--tls-cert <file>',
        'PEM certificate: with --tls-key, the v1 listener speaks TLS and the HTTP one HTTPS (wss://)',
      ).env('ZAPWIRE_TLS_CERT'),
    )
    .addOption(
      new Option('--tls-key <file>', 'PEM private key of --tls-cert').env('ZAPWIRE_TLS_KEY'),
    );
  for (const [key, flag, description] of LIMIT_FLAGS) {
    command.addOption(
      new Option(flag, description).env(envName(key)).default(d[key]).argParser(parseInteger),
    );
  }
  return command.action(async (flags: ServeFlags, command: Command) => {
    let options: Readonly<ServerOptions>;
    try {
      options = resolveServerOptions({
        host: flags.host,
        port: flags.port,
        dbPath: flags.db,
        legacyPort: flags.legacyPort,
        httpPort: flags.httpPort,
        threads: flags.threads,
        sessionsPerThread: flags.sessionsPerThread,
        pollBatch: flags.pollBatch,
        synchronous: flags.synchronous as ServerOptions['synchronous'],
        logLevel: flags.logLevel as ServerOptions['logLevel'],
        pushWindow: flags.pushWindow,
        rateLimit: flags.rateLimit,
        legacyPaceMs: flags.legacyPaceMs,
        commitWindowMs: flags.commitWindowMs,
        maxConnections: flags.maxConnections,
        wsOrigins: flags.wsOrigins,
        wsMaxPayload: flags.wsMaxPayload,
        tlsCert: flags.tlsCert,
        tlsKey: flags.tlsKey,
        ...Object.fromEntries(LIMIT_FLAGS.map(([key]) => [key, flags[key]])),
      });
    } catch (err) {
      if (err instanceof OptionError) {
        process.stderr.write(`zapwire serve: ${asTyped(command, err)}\n`);
        process.exit(2);
      }
      throw err;
    }
    // The signal handlers go in BEFORE the server starts: start() logs
    // "zapwire listening on" before it returns, and a supervisor (or a test)
    // that sends SIGTERM as soon as it reads that line used to hit the
    // default action (killed by the signal, no 09 503, no clean close). A
    // signal during start is remembered and acted on once the server is up.
    let server: ZapwireServer | undefined;
    let stopping: string | undefined;
    const shutdown = (running: ZapwireServer, signal: string) => {
      running.logger.info({ signal }, 'signal received');
      running.close().then(
        () => process.exit(0),
        (err: unknown) => {
          running.logger.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    const stop = (signal: string) => {
      if (stopping) {
        process.stderr.write(`zapwire serve: ${signal} again, exiting now\n`);
        process.exit(1);
      }
      stopping = signal;
      if (server) shutdown(server, signal);
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
    try {
      server = await ZapwireServer.start(options);
    } catch (err) {
      // One line, whatever failed (a database that cannot be served, a port
      // in use): `cannot open database <file>: <SQLite's message>`.
      const message = err instanceof Error ? err.message : String(err);
      process.stderr.write(`zapwire serve: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
      process.exit(1);
    }
    if (stopping) shutdown(server, stopping);
  });
}

/**
 * OptionError names the ServerOptions key (`sessionsPerThread must be ...`),
 * which a command-line user never typed: name the flag instead, or the
 * environment variable when the value came from there.
 */
function asTyped(command: Command, err: OptionError): string {
  const { option: key, message } = err;
  if (!message.startsWith(key) || key === '') return message;
  const attribute = key === 'dbPath' ? 'db' : key;
  const option = command.options.find((o) => o.attributeName() === attribute);
  if (!option?.long) return message;
  const name =
    command.getOptionValueSource(attribute) === 'env' && option.envVar
      ? `${option.envVar} (${option.long})`
      : option.long;
  return name + message.slice(key.length);
}
