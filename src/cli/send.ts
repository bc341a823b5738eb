import { Argument, Command } from 'commander';
import {
  type ConnectionFlags,
  clientFor,
  loadProfile,
  numberArgument,
  runClient,
  withConnectionOptions,
} from './client-command.js';

interface SendFlags extends ConnectionFlags {
  receipts: boolean;
}

/**
 * `zapwire send <to> <text>`: prints the message id once stored (`07`), one
 * per line when a long text went as several messages. A poll session, so that
 * it never takes over the profile's push session (a running listen or chat).
 */
export function sendCommand(): Command {
  return withConnectionOptions(new Command('send'))
    .description(
      'send a text to a user or group; prints the message id once the server has stored it',
    )
    .addArgument(numberArgument('<to>', 'a 13-digit user or group number'))
    .addArgument(new Argument('<text>', 'the text (over 217 bytes it goes as several messages)'))
    .option('--no-receipts', 'do not ask for delivered/read receipts')
    .action((to: string, text: string, flags: SendFlags, command: Command) =>
      runClient('send', async () => {
        const profile = loadProfile(flags);
        const client = clientFor(command, flags, profile, { reconnect: false });
        await client.connect({ mode: 'poll' });
        try {
          const result = await client.send(to, text, { receipts: flags.receipts });
          process.stdout.write(result.ids.map((id) => `${id}\n`).join(''));
        } finally {
          await client.close();
        }
      }),
    );
}
