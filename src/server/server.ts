import { once } from 'node:events';
import type { AddressInfo, Server } from 'node:net';
import { MessageChannel, Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { BrokerClient } from './broker-client.js';
import { resolveServerOptions, type ServerOptions } from './config.js';
import { createLogger } from './logger.js';
import { HostPool } from './main/host-pool.js';
import { LegacyListener } from './main/legacy-listener.js';
import { V1Listener } from './main/v1-listener.js';
import type { BrokerControl, BrokerControlEvent, BrokerStats, BrokerWorkerData } from './thread-messages.js';
import { workerFile } from './worker-files.js';

export interface StartOptions extends Partial<ServerOptions> {
  /** A root logger to use instead of one made from logLevel (tests pass a capturing one). */
  logger?: Logger;
}

export interface ListenAddress {
  host: string;
  port: number;
}

/**
 * The composition root of a zapwire server: the broker thread (SQLite and push
 * routing), the session hosts (piscina), and the listeners on the main thread.
 */
export class ZapwireServer {
  private closing: Promise<void> | undefined;
  private statsRid = 1;

  private constructor(
    readonly options: Readonly<ServerOptions>,
    readonly logger: Logger,
    private readonly broker: Worker,
    private readonly pool: HostPool,
    private readonly v1: V1Listener,
    private readonly legacy: LegacyListener | undefined,
    private readonly brokerClient: BrokerClient,
  ) {}

  static async start(input: StartOptions = {}): Promise<ZapwireServer> {
    const { logger: given, ...rest } = input;
    const options = resolveServerOptions(rest);
    const logger = given ?? createLogger({ level: options.logLevel });

    const workerData: BrokerWorkerData = {
      dbPath: options.dbPath,
      synchronous: options.synchronous,
      pushWindow: options.pushWindow,
      commitWindowMs: options.commitWindowMs,
      logLevel: options.logLevel,
    };
    const broker = new Worker(workerFile('./broker/broker-worker.js'), { workerData });
    await waitForBroker(broker);

    // The main thread's own channel to the broker (host id 0), for the legacy listener.
    const own = new MessageChannel();
    broker.postMessage({ t: 'attach', hostId: 0, port: own.port1 } satisfies BrokerControl, [own.port1]);
    const brokerClient = new BrokerClient(own.port2, () => {});

    let v1!: V1Listener;
    const pool = new HostPool(options, broker, (_host, message) => v1.onOutbound(message), (hostId) => v1.onHostGone(hostId), logger);
    v1 = new V1Listener(() => pool, logger.child({ listener: 'v1' }));
    pool.start();
    const legacy = options.legacyPort === undefined ? undefined : new LegacyListener(brokerClient, options, logger.child({ listener: 'legacy' }));

    const server = new ZapwireServer(options, logger, broker, pool, v1, legacy, brokerClient);
    broker.on('error', (err) => logger.fatal({ err }, 'broker thread failed'));
    await listen(v1.server, options.port, options.host);
    if (legacy) await listen(legacy.server, options.legacyPort!, options.host);
    logger.info(
      {
        address: server.address,
        legacy: server.legacyAddress,
        db: options.dbPath,
        threads: options.threads,
        sessionsPerThread: options.sessionsPerThread,
        synchronous: options.synchronous,
      },
      `zapwire listening on ${server.address.host}:${server.address.port}`,
    );
    return server;
  }

  get address(): ListenAddress {
    const a = this.v1.server.address() as AddressInfo;
    return { host: a.address, port: a.port };
  }

  get legacyAddress(): ListenAddress | undefined {
    const a = this.legacy?.server.address() as AddressInfo | null | undefined;
    return a ? { host: a.address, port: a.port } : undefined;
  }

  /** Counters from the broker thread (SQL statements, commits, messages). */
  async stats(): Promise<BrokerStats> {
    const rid = this.statsRid++;
    const answer = new Promise<BrokerStats>((resolve) => {
      const onMessage = (event: BrokerControlEvent) => {
        if (event.t === 'stats' && event.rid === rid) {
          this.broker.off('message', onMessage);
          resolve(event.stats);
        }
      };
      this.broker.on('message', onMessage);
    });
    this.broker.postMessage({ t: 'stats', rid } satisfies BrokerControl);
    return answer;
  }

  get sessions(): number {
    return this.v1.size;
  }

  /**
   * Graceful stop (SIGINT/SIGTERM): stop accepting, let what was read finish
   * and commit, tell every session `09 503`, close the store.
   */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    this.logger.info('shutting down');
    const stopped = [closeServer(this.v1.server)];
    if (this.legacy) stopped.push(closeServer(this.legacy.server));
    this.v1.stopReading();
    await this.pool.shutdown(5_000);
    await this.v1.closeAll(2_000);
    if (this.legacy) await this.legacy.closeAll(2_000);
    this.brokerClient.flush();
    const closed = new Promise<void>((resolve) => {
      this.broker.on('message', (event: BrokerControlEvent) => event.t === 'closed' && resolve());
      this.broker.once('exit', () => resolve());
    });
    this.broker.postMessage({ t: 'shutdown' } satisfies BrokerControl);
    await Promise.race([closed, sleep(5_000)]);
    await this.broker.terminate();
    await this.pool.destroy();
    await Promise.all(stopped);
    this.logger.info('stopped');
    this.logger.flush();
  }
}

function waitForBroker(broker: Worker): Promise<void> {
  return new Promise((resolve, reject) => {
    const onMessage = (event: BrokerControlEvent) => {
      if (event.t === 'ready') {
        cleanup();
        resolve();
      } else if (event.t === 'failed') {
        cleanup();
        reject(new Error(`cannot open the store: ${event.message}`));
      }
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onExit = (code: number) => {
      cleanup();
      reject(new Error(`broker thread exited with code ${code}`));
    };
    const cleanup = () => {
      broker.off('message', onMessage);
      broker.off('error', onError);
      broker.off('exit', onExit);
    };
    broker.on('message', onMessage);
    broker.once('error', onError);
    broker.once('exit', onExit);
  });
}

async function listen(server: Server, port: number, host: string): Promise<void> {
  server.listen(port, host);
  await once(server, 'listening');
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
