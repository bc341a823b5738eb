import { Argument, Command } from 'commander';
import { ZapwireClient } from '../client/zapwire-client.js';
import {
  type ConnectionFlags,
  maybeProfile,
  runClient,
  target,
  tlsOption,
  withConnectionOptions,
} from './client-command.js';

/** `zapwire check <number>`: `valid` (exit 0) or `invalid` (exit 1). Needs no profile. */
export function checkCommand(): Command {
  return withConnectionOptions(new Command('check'))
    .description('is this a registered user or group? prints valid (exit 0) or invalid (exit 1)')
    .addArgument(new Argument('<number>', 'the number to check'))
    .action((number: string, flags: ConnectionFlags, command: Command) =>
      runClient('check', async () => {
        const client = new ZapwireClient({
          ...target(command, flags, maybeProfile(flags)),
          ...tlsOption(flags),
        });
        const valid = await client.isValid(number);
        process.stdout.write(valid ? 'valid\n' : 'invalid\n');
        return valid ? 0 : 1;
      }),
    );
}
