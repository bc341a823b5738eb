/**
 * The server under attack, in a process of its own so that its RSS is its
 * own and it can be killed when it grows past the tool's ceiling. It starts
 * with exactly the options it is given (the defaults otherwise) and logs at
 * the default level to stdout, where the tool counts warn and error lines.
 */
import { ZapwireServer } from '../src/server/server.js';
import type { ServerReply, ServerRequest } from './attack-ipc.js';
import { replyToParent } from './child.js';

let server: ZapwireServer | undefined;

const reply: (message: ServerReply) => void = replyToParent;

process.on('message', (message: ServerRequest) => {
  void (async () => {
    try {
      if (message.t === 'start') {
        server = await ZapwireServer.start(message.options);
        reply({
          t: 'ready',
          port: server.address.port,
          httpPort: server.httpAddress?.port,
          legacyPort: server.legacyAddress?.port,
        });
      } else {
        await server?.close();
        reply({ t: 'stopped' });
        setTimeout(() => process.exit(0), 50);
      }
    } catch (err) {
      reply({ t: 'failed', message: err instanceof Error ? err.message : String(err) });
    }
  })();
});

process.on('disconnect', () => process.exit(0));
