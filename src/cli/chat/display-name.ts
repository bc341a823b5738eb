import type { Contact } from './chat-store.js';

/** What a number is known by here: the nickname given locally, the name the server told. */
export type Naming = Pick<Contact, 'number' | 'kind' | 'nickname' | 'name'>;

/**
 * The words for a number, the local nickname first: `nickname (name)`, or
 * whichever of the two there is (once when they are the same), or undefined
 * when there is neither. Names are shown trimmed (docs/protocol.md §Names
 * leaves that to the client), so a name of spaces counts as none.
 */
export function label(naming: Pick<Naming, 'nickname' | 'name'>): string | undefined {
  const nickname = naming.nickname.trim();
  const name = naming.name.trim();
  if (nickname && name && nickname !== name) return `${nickname} (${name})`;
  return nickname || name || undefined;
}

/** `…1400`: the end of a number, for a group that has no name. */
function shortNumber(number: string): string {
  return `…${number.slice(-4)}`;
}

/**
 * A conversation as the list and the header show it: a user by its label,
 * else its number; a group marked `# ` before its label, else `#group …1400`.
 */
export function displayName(naming: Naming): string {
  const words = label(naming);
  if (naming.kind === 'group') return words ? `# ${words}` : `#group ${shortNumber(naming.number)}`;
  return words ?? naming.number;
}
