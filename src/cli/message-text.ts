import { MAX_NAME_BYTES } from '../protocol/frame.js';

/**
 * The longest text `zapwire send` and the chat take, in UTF-8 bytes. A frame
 * carries 217 bytes of text, so longer text goes as several messages (the
 * SDK splits it between characters, docs/protocol.md §Frame); 4,096 bytes is
 * at most 19 of them, a long letter. Beyond that a text is far more likely a
 * mistake (a file piped into an argument) than a message, and 20,000
 * characters used to become 93 messages without a word.
 */
export const MAX_TEXT_BYTES = 4_096;

/** Why this text cannot be sent, in a line for the user; undefined when it can. */
export function textProblem(text: string): string | undefined {
  if (text.trim() === '') return 'empty text: nothing to send';
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_TEXT_BYTES)
    return `text too long: ${bytes.toLocaleString('en')} bytes, at most ${MAX_TEXT_BYTES.toLocaleString('en')}`;
  return undefined;
}

/** Why this group name cannot be set (docs/protocol.md §Names: 1 to 64 bytes), in a line; undefined when it can. */
export function nameProblem(name: string): string | undefined {
  if (name.trim() === '') return 'empty name';
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > MAX_NAME_BYTES) return `name too long: ${bytes} bytes, at most ${MAX_NAME_BYTES}`;
  return undefined;
}
