import { Command } from 'commander';
import {
  type ConnectionFlags,
  clientFor,
  loadProfile,
  runClient,
  withConnectionOptions,
} from './client-command.js';
import { deliveryOutput } from './local-history.js';

interface PollFlags extends ConnectionFlags {
  json?: boolean;
}

/** Most `03` round trips one `zapwire poll` makes (each brings at most a server batch). */
const MAX_ROUNDS = 1_000;

/**
 * `zapwire poll`: one poll session; prints what is pending (and records it in
 * the local history), acknowledges it, exits 0. Text lines name people and
 * groups (LocalHistory.askNames, in the same session).
 */
export function pollCommand(): Command {
  return withConnectionOptions(new Command('poll'))
    .description('fetch and print pending messages once (a poll session), acknowledging them')
    .option('--json', 'one JSON object per line')
    .action((flags: PollFlags, command: Command) =>
      runClient('poll', async () => {
        const profile = loadProfile(flags);
        const client = clientFor(command, flags, profile, { reconnect: false });
        const warn = (line: string) => process.stderr.write(`zapwire poll: ${line}\n`);
        const { history, print } = deliveryOutput(flags, profile.number, client, warn);
        await client.connect({ mode: 'poll' });
        try {
          // One answer holds at most a batch: ask again until nothing is left.
          for (let round = 0; round < MAX_ROUNDS; round++) {
            const deliveries = await client.poll();
            for (const delivery of deliveries) {
              await history?.askNames(delivery);
              print(delivery);
              history?.took(delivery);
            }
            if (deliveries.length === 0) break;
          }
        } finally {
          await client.close();
          history?.close();
        }
      }),
    );
}
