import { InvalidArgumentError } from 'commander';

/** Commander parser for an integer option; the message names what is wrong. */
export function parseInteger(value: string): number {
  if (!/^-?[0-9]+$/.test(value.trim()))
    throw new InvalidArgumentError(`${JSON.stringify(value)} is not an integer.`);
  return Number(value);
}

/** Commander parser for a comma-separated list (blanks around items dropped); empty is an error. */
export function parseList(value: string): string[] {
  const items = value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
  if (items.length === 0) throw new InvalidArgumentError('give at least one item.');
  return items;
}
