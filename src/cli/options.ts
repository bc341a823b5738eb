import { InvalidArgumentError } from 'commander';

/** Commander parser for an integer option; the message names what is wrong. */
export function parseInteger(value: string): number {
  if (!/^-?[0-9]+$/.test(value.trim()))
    throw new InvalidArgumentError(`${JSON.stringify(value)} is not an integer.`);
  return Number(value);
}
