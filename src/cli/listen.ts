import { Command } from 'commander';
import type { Delivery } from '../client/deliveries.js';
import type { ZapwireError } from '../errors.js';
import {
  type ConnectionFlags,
  clientFor,
  describeError,
  loadProfile,
  runClient,
  target,
  withConnectionOptions,
} from './client-command.js';
import { exitCodeFor } from './exit-codes.js';
import { deliveryOutput } from './local-history.js';

interface ListenFlags extends ConnectionFlags {
  json?: boolean;
}

/**
 * `zapwire listen`: a push session that prints each message as it arrives,
 * reconnecting when the connection drops, until SIGINT/SIGTERM (exit 0). A
 * takeover by another push session of the same number ends it (exit 1).
 * What it prints is recorded in the profile's local history (local-history.ts).
 */
export function listenCommand(): Command {
  return withConnectionOptions(new Command('listen'))
    .description('print messages and receipts as they arrive, until Ctrl-C')
    .option('--json', 'one JSON object per line')
    .action((flags: ListenFlags, command: Command) =>
      runClient('listen', async () => {
        const profile = loadProfile(flags);
        const client = clientFor(command, flags, profile);
        const note = (line: string) => process.stderr.write(`zapwire listen: ${line}\n`);
        const { history, print } = deliveryOutput(flags, profile.number, client, note);
        // Lines wait for the names they show (asked in this session), in the order the deliveries came.
        let printed = Promise.resolve();
        const take = (delivery: Delivery) => {
          history?.took(delivery);
          printed = printed.then(async () => {
            await history?.askNames(delivery);
            print(delivery);
          });
        };
        client.on('message', take);
        client.on('receipt', take);
        client.on('groupCreated', take);
        client.on('disconnect', ({ error, reconnectInMs }) => {
          if (reconnectInMs !== undefined)
            note(`${describeError(error)}; reconnecting in ${reconnectInMs} ms`);
        });
        client.on('reconnect', () => note('reconnected'));
        // Reported by 'close' below, which ends the command.
        client.on('error', () => {});

        let stopping = false;
        const ended = new Promise<number>((resolve) => {
          const stop = () => {
            stopping = true;
            void client.close().then(() => resolve(0));
          };
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
          client.on('close', ({ error }: { error: ZapwireError | undefined }) => {
            if (error) {
              note(describeError(error));
              resolve(exitCodeFor(error));
            }
          });
        });
        try {
          await client.connect({ mode: 'push' });
        } catch (err) {
          if (stopping) return 0; // Ctrl-C while connecting
          throw err;
        }
        const { host, port } = target(command, flags, profile);
        note(`listening as ${profile.number} on ${host}:${port} (Ctrl-C to stop)`);
        const code = await ended;
        await printed;
        history?.close();
        return code;
      }),
    );
}
