import { Command } from 'commander';
import {
  type ConnectionFlags,
  loadProfile,
  runClient,
  withConnectionOptions,
} from './client-command.js';

/** `zapwire whoami`: the profile's number (no server needed). */
export function whoamiCommand(): Command {
  return withConnectionOptions(new Command('whoami'))
    .description("print the profile's number")
    .action((flags: ConnectionFlags) =>
      runClient('whoami', async () => {
        process.stdout.write(`${loadProfile(flags).number}\n`);
      }),
    );
}
