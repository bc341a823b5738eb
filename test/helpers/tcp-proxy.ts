import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on 127.0.0.1:0 in front of a server, so that a test can cut a
 * client's connection (as a network failure would) or hold back what the
 * server says, without any test hook inside the client.
 */
export class TcpProxy {
  /** While true, bytes from the server to the client are kept back (forwarded on release, dropped on cut). */
  holdingReplies = false;
  private readonly pairs = new Set<{ client: Socket; upstream: Socket; held: Buffer[] }>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
    let proxy!: TcpProxy;
    const server = createServer((client) => {
      const upstream = connect(targetPort, targetHost);
      const pair = { client, upstream, held: [] as Buffer[] };
      proxy.pairs.add(pair);
      client.on('data', (chunk) => upstream.write(chunk));
      upstream.on('data', (chunk: Buffer) => {
        if (proxy.holdingReplies) pair.held.push(chunk);
        else client.write(chunk);
      });
      const drop = () => {
        proxy.pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on('close', drop);
      upstream.on('close', drop);
      client.on('error', () => {});
      upstream.on('error', () => {});
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('proxy has no port');
    proxy = new TcpProxy(server, address.port);
    return proxy;
  }

  /** Connections open through the proxy. */
  get size(): number {
    return this.pairs.size;
  }

  /** Forwards what was held back and stops holding. */
  release(): void {
    this.holdingReplies = false;
    for (const pair of this.pairs)
      for (const chunk of pair.held.splice(0)) pair.client.write(chunk);
  }

  /** Cuts every connection at once, both sides, like a network failure (held bytes are lost; holding stops). */
  cutAll(): void {
    this.holdingReplies = false;
    for (const pair of [...this.pairs]) {
      pair.held.length = 0;
      pair.client.destroy();
      pair.upstream.destroy();
    }
    this.pairs.clear();
  }

  async close(): Promise<void> {
    this.cutAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
