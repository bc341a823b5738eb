import type { BrokerEvent, HostOutbound } from '../threads/thread-messages.js';
import type { Connection } from './connection.js';

/**
 * The version 1 connections by session id, and the routing of what other
 * threads write to them: a session host's output, and what the broker writes
 * itself (DESIGN.md §The path of one message). It depends on nothing, so that
 * the host pool and the broker client, which deliver into it, are built before
 * the listener that fills it: the server's wiring has no cycle.
 */
export class ConnectionTable {
  private readonly bySid = new Map<number, Connection>();

  get size(): number {
    return this.bySid.size;
  }

  add(connection: Connection): void {
    this.bySid.set(connection.sid, connection);
  }

  delete(connection: Connection): void {
    this.bySid.delete(connection.sid);
  }

  values(): IterableIterator<Connection> {
    return this.bySid.values();
  }

  /** Routes a host's output (answers, ends, credit) to its connection. */
  fromHost(message: HostOutbound): void {
    if (message.t === 'answer')
      this.bySid.get(message.sid)?.answer(message.slot, message.bytes, message.close);
    else if (message.t === 'end') this.bySid.get(message.sid)?.end(message.bytes, message.after);
    else if (message.t === 'credit') this.bySid.get(message.sid)?.credit(message.frames);
  }

  /** Routes what the broker writes itself (answers of 04, 05, 03, and every 06) to its connection. */
  fromBroker(event: BrokerEvent): void {
    if (event.t === 'answer')
      this.bySid.get(event.sid)?.fromTheBroker(event.slot, event.bytes, event.close);
    else if (event.t === 'deliver')
      this.bySid.get(event.sid)?.fromTheBroker(undefined, event.bytes, false);
  }

  /** A host thread died: its connections have no handler any more. */
  hostGone(hostId: number): void {
    for (const connection of this.bySid.values()) {
      if (connection.host.id === hostId) connection.socket.destroy();
    }
  }
}
