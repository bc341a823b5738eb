import crypto from 'node:crypto';
import { NOBODY } from '../protocol/frame.js';

const NUMBER_SPACE = 10 ** 13;
// A collision needs ~10^6 numbers in use to be one in ten million likely; a
// run of them means the generator is broken, not that the space is full.
const MAX_NUMBER_ATTEMPTS = 100;

/**
 * docs/protocol.md §Codes `02`: 13 random digits, unique across users and groups,
 * never 0000000000000 ("nobody"). `isTaken` asks the store.
 */
export function freeNumber(isTaken: (number: string) => boolean): string {
  for (let attempt = 0; attempt < MAX_NUMBER_ATTEMPTS; attempt++) {
    const number = String(crypto.randomInt(1, NUMBER_SPACE)).padStart(13, '0');
    if (number === NOBODY) continue;
    if (!isTaken(number)) return number;
  }
  throw new Error(`no free number found in ${MAX_NUMBER_ATTEMPTS} attempts`);
}
