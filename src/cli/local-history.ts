import type { Delivery } from '../client/deliveries.js';
import type { NameInfo } from '../client/zapwire-client.js';
import { ChatState } from './chat/chat-state.js';
import { ChatStore, chatDbPath } from './chat/chat-store.js';
import { NameLookup, type NameSource } from './chat/name-lookup.js';
import { type ConnectionFlags, printer } from './client-command.js';

/**
 * The profile's local history (`<config-dir>/profiles/<profile>.db`, the
 * chat's) as the one-shot commands use it: `send` records what it sent, so the
 * chat shows it with its check marks; `poll` and `listen` record what they
 * took from the server (messages, receipts, new groups), which the server no
 * longer has for the chat to receive; and what they print names people by
 * the chat's nicknames and the names the server told (asked once a run for
 * each number shown, as a group may have been renamed since). SQLite in WAL mode lets a running chat and these commands share
 * the file.
 */
export class LocalHistory {
  private readonly state: ChatState;

  private warned = false;
  private readonly names: NameLookup | undefined;
  /** The numbers asked about in this run. */
  private readonly asked = new Set<string>();

  private constructor(
    private readonly store: ChatStore,
    self: string,
    private readonly warn: (line: string) => void,
    source: NameSource | undefined,
  ) {
    this.state = new ChatState(store, self);
    this.names = source && new NameLookup(source, this.state);
  }

  /**
   * The history, or undefined (said once through `warn`) when it cannot be
   * opened: a command still does its work without it. With `names` (the
   * command's client), askNames asks the server.
   */
  static open(
    configDir: string,
    profile: string,
    self: string,
    warn: (line: string) => void,
    names?: NameSource,
  ): LocalHistory | undefined {
    try {
      return new LocalHistory(new ChatStore(chatDbPath(configDir, profile)), self, warn, names);
    } catch (err) {
      warn(`no local history: ${(err as Error).message}`);
      return undefined;
    }
  }

  /** A number's nickname and name (display-name.ts `label`), undefined when neither is known. */
  labelOf(number: string): string | undefined {
    return this.state.labelOf(number);
  }

  /** Asks the names of the numbers this delivery shows, each once a run; never fails. */
  async askNames(delivery: Delivery): Promise<void> {
    for (const number of shownNumbers(delivery)) {
      if (this.asked.has(number)) continue;
      this.asked.add(number);
      await this.names?.refresh(number);
    }
  }

  /** An answer the command got itself (`zapwire name`, `group rename`): the chat shows it too. */
  learned(number: string, answer: NameInfo): void {
    this.safely(() => this.state.learnedName(number, answer));
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

/**
 * What `poll` and `listen` print through: the profile's history, which asks
 * names with `client` for text lines (`--json` lines carry numbers only, so
 * none are asked), and a printer that names people from it.
 */
export function deliveryOutput(
  flags: ConnectionFlags & { json?: boolean },
  self: string,
  client: NameSource,
  warn: (line: string) => void,
): { history: LocalHistory | undefined; print: (delivery: Delivery) => void } {
  const json = flags.json ?? false;
  const history = LocalHistory.open(
    flags.configDir,
    flags.profile,
    self,
    warn,
    json ? undefined : client,
  );
  return { history, print: printer(json, self, history?.labelOf.bind(history)) };
}

/** Keeps a name a command was told itself (`zapwire name`, `group rename`) in the history, so the chat shows it at once. */
export function rememberName(
  flags: ConnectionFlags,
  self: string,
  command: string,
  number: string,
  answer: NameInfo,
): void {
  const warn = (line: string) => process.stderr.write(`zapwire ${command}: ${line}\n`);
  const history = LocalHistory.open(flags.configDir, flags.profile, self, warn);
  history?.learned(number, answer);
  history?.close();
}

/** The numbers a printed delivery names (formatDelivery). */
function shownNumbers(delivery: Delivery): string[] {
  switch (delivery.type) {
    case 'message':
      return [delivery.sender, delivery.chat.number];
    case 'receipt':
      return [delivery.from, delivery.chat.number];
    case 'groupCreated':
      return [delivery.creator, delivery.group];
  }
}
