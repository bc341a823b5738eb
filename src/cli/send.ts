import { Argument, Command } from 'commander';
import {
  type ConnectionFlags,
  inPollSession,
  loadProfile,
  numberArgument,
  runClient,
  withConnectionOptions,
} from './client-command.js';
import { LocalHistory } from './local-history.js';
import { MAX_TEXT_BYTES, textProblem } from './message-text.js';
import { usageError } from './usage.js';

interface SendFlags extends ConnectionFlags {
  receipts: boolean;
}

/**
 * `zapwire send <to> <text>`: prints the message id once stored (`07`), one
 * per line when a long text went as several messages, and records the text in
 * the profile's local history (the chat shows it). A poll session, so that it
 * never takes over the profile's push session (a running listen or chat).
 * An empty text, or one over MAX_TEXT_BYTES, is bad usage (exit 2): nothing is sent.
 */
export function sendCommand(): Command {
  return withConnectionOptions(new Command('send'))
    .description(
      'send a text to a user or group; prints the message id once the server has stored it',
    )
    .addArgument(numberArgument('<to>', 'a 13-digit user or group number'))
    .addArgument(
      new Argument(
        '<text>',
        `the text, at most ${MAX_TEXT_BYTES.toLocaleString('en')} bytes (over 217 it goes as several messages)`,
      ),
    )
    .option('--no-receipts', 'do not ask for delivered/read receipts')
    .action((to: string, text: string, flags: SendFlags, command: Command) =>
      runClient('send', async () => {
        const problem = textProblem(text);
        if (problem) throw usageError(problem);
        const profile = loadProfile(flags);
        const result = await inPollSession(command, flags, profile, (client) =>
          client.send(to, text, { receipts: flags.receipts }),
        );
        process.stdout.write(result.ids.map((id) => `${id}\n`).join(''));
        const warn = (line: string) => process.stderr.write(`zapwire send: ${line}\n`);
        const history = LocalHistory.open(flags.configDir, flags.profile, profile.number, warn);
        history?.sent(to, text, result.ts);
        history?.close();
      }),
    );
}
