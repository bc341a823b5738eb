import type { Delivery } from '../client/deliveries.js';
import { ChatState } from './chat/chat-state.js';
import { ChatStore, chatDbPath } from './chat/chat-store.js';

/**
 * The profile's local history (`<config-dir>/profiles/<profile>.db`, the
 * chat's) as the one-shot commands use it: `send` records what it sent, so the
 * chat shows it with its check marks; `poll` and `listen` record what they
 * took from the server (messages, receipts, new groups), which the server no
 * longer has for the chat to receive; and receipts name people by the chat's
 * nicknames. SQLite in WAL mode lets a running chat and these commands share
 * the file.
 */
export class LocalHistory {
  private readonly state: ChatState;

  private warned = false;

  private constructor(
    private readonly store: ChatStore,
    self: string,
    private readonly warn: (line: string) => void,
  ) {
    this.state = new ChatState(store, self);
  }

  /**
   * The history, or undefined (said once through `warn`) when it cannot be
   * opened: a command still does its work without it.
   */
  static open(
    configDir: string,
    profile: string,
    self: string,
    warn: (line: string) => void,
  ): LocalHistory | undefined {
    try {
      return new LocalHistory(new ChatStore(chatDbPath(configDir, profile)), self, warn);
    } catch (err) {
      warn(`no local history: ${(err as Error).message}`);
      return undefined;
    }
  }

  /** The nickname of a number in the chat's contacts, else the number. */
  nameOf(number: string): string {
    return this.state.contact(number)?.nickname ?? number;
  }

  /** A text the server stored (07) for `to`, stamped `ts`. */
  sent(to: string, text: string, ts: number): void {
    this.safely(() => this.state.sentElsewhere(to, text, ts));
  }

  /** What a poll or push session took from the server; nothing is shown as read. */
  took(delivery: Delivery): void {
    this.safely(() => {
      if (delivery.type === 'message') this.state.received(delivery, false);
      else if (delivery.type === 'receipt') this.state.receipt(delivery);
      else this.state.groupCreated(delivery);
    });
  }

  /**
   * Recording never fails the command (nor a delivery listener, which would
   * have the message sent again): a failure is said once.
   */
  private safely(record: () => unknown): void {
    try {
      record();
    } catch (err) {
      if (!this.warned) this.warn(`not recorded in the local history: ${(err as Error).message}`);
      this.warned = true;
    }
  }

  close(): void {
    this.store.close();
  }
}
