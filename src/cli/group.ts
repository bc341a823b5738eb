import { Argument, Command, InvalidArgumentError } from 'commander';
import { isNumber } from '../protocol/frame.js';
import {
  type ConnectionFlags,
  clientFor,
  loadProfile,
  runClient,
  withConnectionOptions,
} from './client-command.js';
import { usageError } from './usage.js';

const MAX_MEMBERS = 16;

function collectMember(value: string, previous: string[] | undefined): string[] {
  if (!isNumber(value))
    throw new InvalidArgumentError(`${JSON.stringify(value)} is not a 13-digit number.`);
  const members = [...(previous ?? []), value];
  if (members.length > MAX_MEMBERS)
    throw new InvalidArgumentError(`at most ${MAX_MEMBERS} members besides you.`);
  return members;
}

/** `zapwire group create <numbers...>`: prints the new group's number. */
export function groupCommand(): Command {
  const create = withConnectionOptions(new Command('create'))
    .description('create a group with these members (you are always one); prints its number')
    .addArgument(
      new Argument('<numbers...>', `1 to ${MAX_MEMBERS} member numbers, 13 digits each`).argParser(
        collectMember,
      ),
    )
    .action((members: string[], flags: ConnectionFlags, command: Command) =>
      runClient('group create', async () => {
        const profile = loadProfile(flags);
        const client = clientFor(command, flags, profile, { reconnect: false });
        await client.connect({ mode: 'poll' });
        try {
          process.stdout.write(`${await client.createGroup(members)}\n`);
        } finally {
          await client.close();
        }
      }),
    );
  // Without a subcommand commander would print the help and count it a success.
  return new Command('group')
    .description('manage groups (group create)')
    .addCommand(create)
    .action(() =>
      runClient('group', async () => {
        throw usageError('a subcommand is needed: zapwire group create <numbers...>');
      }),
    );
}
