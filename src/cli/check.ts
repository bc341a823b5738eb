import { Command } from 'commander';
import { ZapwireClient } from '../client/zapwire-client.js';
import {
  type ConnectionFlags,
  connection,
  maybeProfile,
  numberArgument,
  runClient,
  withConnectionOptions,
} from './client-command.js';

/**
 * `zapwire check <number>`: `valid` (exit 0) or `invalid` (exit 1, the server
 * says no such user or group). Not 13 digits is bad usage (exit 2), and a
 * server that cannot be reached exit 3, so a script can tell them apart.
 * Needs no profile.
 */
export function checkCommand(): Command {
  return withConnectionOptions(new Command('check'))
    .description(
      'is this a registered user or group? prints valid (exit 0) or invalid (exit 1); not 13 digits: exit 2',
    )
    .addArgument(numberArgument('<number>', 'the 13-digit number to check'))
    .action((number: string, flags: ConnectionFlags, command: Command) =>
      runClient('check', async () => {
        const client = new ZapwireClient(connection(command, flags, maybeProfile(flags)));
        const valid = await client.isValid(number);
        process.stdout.write(valid ? 'valid\n' : 'invalid\n');
        return valid ? 0 : 1;
      }),
    );
}
