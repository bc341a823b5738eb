import type { NameInfo } from '../../client/zapwire-client.js';
import { ForbiddenError, MalformedRequestError, NotFoundError } from '../../errors.js';
import type { ChatState } from './chat-state.js';

/** The SDK call names come from (`client.nameOf`, code `12`). */
export interface NameSource {
  nameOf(number: string): Promise<NameInfo>;
}

/**
 * Asks the server for names (docs/protocol.md §Names) and keeps the answers
 * in the profile's history (ChatState). One question per number at a time;
 * `changed` is called when an answer changed what is shown.
 *
 * - `403` (no longer a member) and `404`: the cached name is dropped, so the
 *   number is shown again.
 * - `400`: a server older than names closes the session on `12`; names are
 *   not asked again for the life of this object, so a reconnect does not
 *   close it once more.
 * - Anything else (offline, a timeout): what was cached stays; the next
 *   occasion asks again.
 */
export class NameLookup {
  private readonly asking = new Map<string, Promise<void>>();
  private supported = true;

  constructor(
    private readonly source: NameSource,
    private readonly state: ChatState,
    private readonly changed: () => void = () => {},
  ) {}

  /** Asks about a number shown for the first time: nothing when an answer is cached (or it is this user). */
  ensure(number: string): Promise<void> {
    if (number === this.state.self || this.state.cachedName(number)) return Promise.resolve();
    return this.refresh(number);
  }

  /** Asks again (a conversation opened, the chat started or reconnected, a group still unnamed). */
  refresh(number: string): Promise<void> {
    const running = this.asking.get(number);
    if (running) return running;
    if (!this.supported || number === this.state.self) return Promise.resolve();
    const asked = this.ask(number).finally(() => this.asking.delete(number));
    this.asking.set(number, asked);
    return asked;
  }

  /** Asks about each, one after the other (a list of conversations need not queue at the server at once). */
  async refreshAll(numbers: readonly string[]): Promise<void> {
    for (const number of numbers) await this.refresh(number);
  }

  private async ask(number: string): Promise<void> {
    let answer: NameInfo | undefined;
    let refusal: unknown;
    try {
      answer = await this.source.nameOf(number);
    } catch (err) {
      refusal = err;
    }
    try {
      this.keep(number, answer, refusal);
    } catch {
      // The history closed while asking (the chat quit): nothing is left to show.
    }
  }

  private keep(number: string, answer: NameInfo | undefined, refusal: unknown): void {
    const before = this.state.cachedName(number);
    if (answer) {
      this.state.learnedName(number, answer);
      if (before?.name !== answer.name || before.kind !== answer.kind) this.changed();
    } else if (refusal instanceof ForbiddenError || refusal instanceof NotFoundError) {
      this.state.forgetName(number);
      if (before) this.changed();
    } else if (refusal instanceof MalformedRequestError) {
      this.supported = false;
    }
  }
}
