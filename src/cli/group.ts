import { Argument, Command, InvalidArgumentError } from 'commander';
import { isNumber } from '../protocol/frame.js';
import {
  type ConnectionFlags,
  inPollSession,
  loadProfile,
  numberArgument,
  runClient,
  withConnectionOptions,
} from './client-command.js';
import { rememberName } from './local-history.js';
import { nameProblem } from './message-text.js';
import { terminalText } from './terminal-text.js';
import { usageError } from './usage.js';

const MAX_MEMBERS = 16;

interface CreateFlags extends ConnectionFlags {
  name?: string;
}

function collectMember(value: string, previous: string[] | undefined): string[] {
  if (!isNumber(value))
    throw new InvalidArgumentError(`${JSON.stringify(value)} is not a 13-digit number.`);
  const members = [...(previous ?? []), value];
  if (members.length > MAX_MEMBERS)
    throw new InvalidArgumentError(`at most ${MAX_MEMBERS} members besides you.`);
  return members;
}

/** A group name checked before anything is sent: empty or over 64 bytes is bad usage (exit 2). */
function parseGroupName(value: string): string {
  const problem = nameProblem(value);
  if (problem) throw new InvalidArgumentError(`${problem}.`);
  return value;
}

/** `zapwire group create [--name <name>] <numbers...>`: prints the new group's number. */
function createCommand(): Command {
  return withConnectionOptions(new Command('create'))
    .description('create a group with these members (you are always one); prints its number')
    .option(
      '--name <name>',
      "the group's name, every member's to see (1 to 64 bytes)",
      parseGroupName,
    )
    .addArgument(
      new Argument('<numbers...>', `1 to ${MAX_MEMBERS} member numbers, 13 digits each`).argParser(
        collectMember,
      ),
    )
    .action((members: string[], flags: CreateFlags, command: Command) =>
      runClient('group create', async () => {
        const profile = loadProfile(flags);
        const options = flags.name === undefined ? {} : { name: flags.name };
        const group = await inPollSession(command, flags, profile, async (client) => {
          try {
            return await client.createGroup(members, options);
          } catch (err) {
            // Created, but its name refused: the number is printed, the refusal is the error line.
            const created = (err as { group?: unknown }).group;
            if (typeof created === 'string') process.stdout.write(`${created}\n`);
            throw err;
          }
        });
        process.stdout.write(`${group}\n`);
        if (flags.name !== undefined)
          rememberName(flags, profile.number, 'group create', group, {
            kind: 'group',
            name: flags.name,
          });
      }),
    );
}

/** `zapwire group rename <group> <name>`: `14`; prints `group <g> named <name>` as stored. */
function renameCommand(): Command {
  return withConnectionOptions(new Command('rename'))
    .description('name a group you are a member of (any member may; the last name set wins)')
    .addArgument(numberArgument('<group>', "the group's 13-digit number"))
    .addArgument(new Argument('<name>', 'the new name, 1 to 64 bytes').argParser(parseGroupName))
    .action((group: string, name: string, flags: ConnectionFlags, command: Command) =>
      runClient('group rename', async () => {
        const profile = loadProfile(flags);
        const stored = await inPollSession(command, flags, profile, (client) =>
          client.nameGroup(group, name),
        );
        process.stdout.write(`group ${group} named ${terminalText(stored)}\n`);
        rememberName(flags, profile.number, 'group rename', group, { kind: 'group', name: stored });
      }),
    );
}

/** `zapwire group create|rename`. */
export function groupCommand(): Command {
  // Without a subcommand commander would print the help and count it a success.
  return new Command('group')
    .description('manage groups (group create, group rename)')
    .addCommand(createCommand())
    .addCommand(renameCommand())
    .action(() =>
      runClient('group', async () => {
        throw usageError(
          'a subcommand is needed: zapwire group create <numbers...> or zapwire group rename <group> <name>',
        );
      }),
    );
}
