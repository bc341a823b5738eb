import crypto from 'node:crypto';
import { NOBODY } from '../protocol/frame.js';

const NUMBER_SPACE = 10 ** 13;
// A collision needs ~10^6 numbers in use to be one in ten million likely; a
// run of them means the generator is broken, not that the space is full.
export const MAX_NUMBER_ATTEMPTS = 100;

/**
 * One draw of docs/protocol.md §Codes `02`: 13 random digits, or undefined
 * for 0000000000000 ("nobody"), which is never handed out (a draw lost).
 */
export function drawNumber(): string | undefined {
  const number = String(crypto.randomInt(1, NUMBER_SPACE)).padStart(13, '0');
  return number === NOBODY ? undefined : number;
}

/** A number unique across users and groups, never "nobody". `isTaken` asks the store. */
export function freeNumber(isTaken: (number: string) => boolean): string {
  for (let attempt = 0; attempt < MAX_NUMBER_ATTEMPTS; attempt++) {
    const number = drawNumber();
    if (number !== undefined && !isTaken(number)) return number;
  }
  throw new Error(`no free number found in ${MAX_NUMBER_ATTEMPTS} attempts`);
}
