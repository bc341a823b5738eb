import { Command } from 'commander';
import { ZapwireClient } from '../client/zapwire-client.js';
import { CliError } from '../errors.js';
import {
  type ConnectionFlags,
  connection,
  runClient,
  target,
  withConnectionOptions,
} from './client-command.js';
import { profileExists, profilePath, readProfile, writeProfile } from './profile.js';

interface RegisterFlags extends ConnectionFlags {
  name: string;
  force?: boolean;
}

/** `zapwire register`: a new number, saved as a profile (mode 0600); prints the number. */
export function registerCommand(): Command {
  return withConnectionOptions(new Command('register'))
    .description('register a new number and save it (with its secret token) as a profile')
    .option('--name <name>', 'display name, at most 64 bytes', '')
    .option(
      '--force',
      'replace an existing profile of that name (its number is not deleted on the server)',
    )
    .action((flags: RegisterFlags, command: Command) =>
      runClient('register', async () => {
        // Checked before registering, so that a refusal does not cost a number.
        if (profileExists(flags.configDir, flags.profile) && !flags.force) {
          const existing = readProfileQuietly(flags);
          throw new CliError(
            `profile "${flags.profile}" already exists${existing ? ` (number ${existing})` : ''} at ${profilePath(flags.configDir, flags.profile)}; use --force to replace it`,
          );
        }
        const where = target(command, flags);
        const identity = await new ZapwireClient(connection(command, flags)).register(flags.name);
        writeProfile(flags.configDir, flags.profile, { ...identity, ...where, name: flags.name });
        process.stdout.write(`${identity.number}\n`);
      }),
    );
}

function readProfileQuietly(flags: RegisterFlags): string | undefined {
  try {
    return readProfile(flags.configDir, flags.profile).number;
  } catch {
    return undefined;
  }
}
