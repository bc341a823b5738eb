import type { Logger } from 'pino';

/** The listeners that share the caps. */
export type Listener = 'v1' | 'legacy' | 'http';

/** Why a connection was refused. */
export type Refusal = 'total' | 'address';

/** How often the warn line about refused connections may be written. */
const WARN_EVERY_MS = 1_000;

/**
 * The connection caps of docs/protocol.md §Limits, shared by every listener on the
 * main thread (v1, legacy, HTTP): at most `maxConnections` open in all and at
 * most `maxConnectionsPerAddress` from one source address (0 turns either
 * off), less a small reserve that only HTTP may use (`httpReserve`). A
 * listener asks `admit` for each accepted socket and calls `release`
 * exactly once when that socket closes; a refused socket was never counted.
 * Refusals are logged at warn, at most one line a second with the count since
 * the last, so a flood cannot turn into a flood of log lines.
 */
export class Admission {
  /**
   * Connections of the total that only the HTTP listener may use: a flood of
   * idle v1 or legacy sockets stops this short of maxConnections, so
   * `/healthz` and the HTTP API still get in (a sixteenth of the cap, at most
   * 64; none for caps under 16).
   */
  readonly httpReserve: number;
  private open = 0;
  private readonly byAddress = new Map<string, number>();
  private refusedSinceWarn = 0;
  private lastWarn = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly maxConnections: number,
    private readonly maxPerAddress: number,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.httpReserve = Math.min(64, Math.floor(maxConnections / 16));
  }

  /** Open connections counted now, every listener together. */
  get size(): number {
    return this.open;
  }

  /** Counts the connection and returns undefined, or says why it is refused (not counted). */
  admit(address: string, listener: Listener): Refusal | undefined {
    const fromAddress = this.byAddress.get(address) ?? 0;
    let refusal: Refusal | undefined;
    const cap = listener === 'http' ? this.maxConnections : this.maxConnections - this.httpReserve;
    if (this.maxConnections > 0 && this.open >= cap) refusal = 'total';
    else if (this.maxPerAddress > 0 && fromAddress >= this.maxPerAddress) refusal = 'address';
    if (refusal) {
      this.warn(address, listener, refusal);
      return refusal;
    }
    this.open++;
    this.byAddress.set(address, fromAddress + 1);
    return undefined;
  }

  /**
   * An admitted HTTP connection becoming a version 1 one (a WebSocket at
   * `/v1/ws`): it stays counted once, but must fit under the cap the v1
   * listener has, so that WebSockets cannot take the HTTP reserve. Undefined
   * when it fits; a refused one is still counted (released when it closes).
   */
  upgrade(address: string): Refusal | undefined {
    if (this.maxConnections > 0 && this.open > this.maxConnections - this.httpReserve) {
      this.warn(address, 'v1', 'total');
      return 'total';
    }
    return undefined;
  }

  release(address: string): void {
    const fromAddress = this.byAddress.get(address);
    if (fromAddress === undefined) return;
    this.open--;
    if (fromAddress <= 1) this.byAddress.delete(address);
    else this.byAddress.set(address, fromAddress - 1);
  }

  /** The reason a refused client is given (the `09` data or the HTTP body). */
  static reason(refusal: Refusal): string {
    return refusal === 'total'
      ? 'too many connections (maxConnections)'
      : 'too many connections from your address (maxConnectionsPerAddress)';
  }

  private warn(address: string, listener: Listener, refusal: Refusal): void {
    this.refusedSinceWarn++;
    const t = this.now();
    if (t - this.lastWarn < WARN_EVERY_MS) return;
    this.logger.warn(
      {
        address,
        listener,
        refused: this.refusedSinceWarn,
        open: this.open,
        maxConnections: this.maxConnections,
        maxConnectionsPerAddress: this.maxPerAddress,
      },
      `connection refused: ${Admission.reason(refusal)}`,
    );
    this.lastWarn = t;
    this.refusedSinceWarn = 0;
  }
}
