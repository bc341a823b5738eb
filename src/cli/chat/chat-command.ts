import { Command } from 'commander';
import { CliError } from '../../errors.js';
import {
  type ConnectionFlags,
  clientFor,
  loadProfile,
  runClient,
  withConnectionOptions,
} from '../client-command.js';
import { ChatApp } from './chat-app.js';
import { ChatState } from './chat-state.js';
import { ChatStore, chatDbPath } from './chat-store.js';
import { Terminal } from './terminal.js';

/**
 * `zapwire chat`: the full-screen client. A push session (so it takes over a
 * `listen` of the same number), with history and contacts in
 * `<config-dir>/profiles/<profile>.db`.
 */
export function chatCommand(): Command {
  return withConnectionOptions(new Command('chat'))
    .description('full-screen chat: contacts and groups, history, checkmarks (needs a terminal)')
    .action((flags: ConnectionFlags, command: Command) =>
      runClient('chat', async () => {
        const profile = loadProfile(flags);
        if (!process.stdin.isTTY || !process.stdout.isTTY)
          throw new CliError('chat needs a terminal (stdin and stdout a TTY)');
        const store = new ChatStore(chatDbPath(flags.configDir, flags.profile));
        const state = new ChatState(store, profile.number);
        const client = clientFor(command, flags, profile, { seen: store.seenStore() });

        let finish: (code: number) => void = () => {};
        const done = new Promise<number>((resolve) => (finish = resolve));
        let app: ChatApp | undefined;
        const terminal = new Terminal(
          process.stdin,
          process.stdout,
          (str, key) => app?.key(str, key),
          () => app?.render(),
        );
        let stopping = false;
        const quit = (code = 0) => {
          if (stopping) return;
          stopping = true;
          app?.stop();
          const closed = Promise.race([client.close(), new Promise((r) => setTimeout(r, 1000))]);
          void closed.finally(() => {
            terminal.stop();
            store.close();
            finish(code);
          });
        };
        app = new ChatApp(client, state, terminal, profile.name || 'me', () => quit(0));
        process.once('SIGTERM', () => quit(0));
        process.once('SIGHUP', () => quit(0));
        process.once('SIGINT', () => quit(0));
        process.once('uncaughtException', (err) => {
          terminal.stop();
          process.stderr.write(`zapwire chat: ${err.stack ?? err.message}\n`);
          process.exit(1);
        });

        terminal.start();
        app.render();
        try {
          await client.connect({ mode: 'push' });
        } catch (err) {
          if (stopping) return done; // quit while connecting
          stopping = true;
          terminal.stop();
          store.close();
          throw err;
        }
        app.setOnline(true);
        return done;
      }),
    );
}
