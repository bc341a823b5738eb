import { Command } from 'commander';
import {
  type ConnectionFlags,
  inPollSession,
  loadProfile,
  numberArgument,
  runClient,
  withConnectionOptions,
} from './client-command.js';
import { rememberName } from './local-history.js';
import { terminalJson, terminalText } from './terminal-text.js';

interface NameFlags extends ConnectionFlags {
  json?: boolean;
}

/**
 * `zapwire name <number>`: `12`, whose name a number has (docs/protocol.md
 * §Names): `user Alice`, `group Família`, the kind alone when it has none.
 * A group's name only its members may ask (403, exit 1); a number that is
 * neither is 404 (exit 1). Needs a profile (`12` needs a session); the answer
 * is kept in the profile's local history, so the chat shows it.
 */
export function nameCommand(): Command {
  return withConnectionOptions(new Command('name'))
    .description("print a user's registered name or a group's name: user Alice / group Família")
    .addArgument(numberArgument('<number>', 'a 13-digit user or group number'))
    .option('--json', 'one JSON object: {"number","kind","name"}')
    .action((number: string, flags: NameFlags, command: Command) =>
      runClient('name', async () => {
        const profile = loadProfile(flags);
        const answer = await inPollSession(command, flags, profile, (client) =>
          client.nameOf(number),
        );
        const line = flags.json
          ? terminalJson({ number, ...answer })
          : answer.name === ''
            ? answer.kind
            : `${answer.kind} ${terminalText(answer.name)}`;
        process.stdout.write(`${line}\n`);
        rememberName(flags, profile.number, 'name', number, answer);
      }),
    );
}
