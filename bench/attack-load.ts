/**
 * An attacker process: prepares one attack of bench/attack-attacks.ts (users,
 * sessions), runs it when told, for the time it is given, and reports what it
 * got. Apart from the server's process, so that the attack's own CPU and
 * sockets are not the server's, nor the normal client's.
 */
import { ATTACKS, type Prepared } from './attack-attacks.js';
import type { LoadReply, LoadRequest } from './attack-ipc.js';
import { replyToParent } from './child.js';

let prepared: Prepared | undefined;
const abort = new AbortController();

const reply: (message: LoadReply) => void = replyToParent;

process.on('message', (message: LoadRequest) => {
  void (async () => {
    try {
      if (message.t === 'prepare') {
        const attack = ATTACKS[message.attack];
        if (!attack?.run) throw new Error(`no attacker for ${message.attack}`);
        prepared = await attack.run({ ...message.env, signal: abort.signal });
        reply({ t: 'prepared' });
      } else if (message.t === 'run') {
        reply({ t: 'result', report: await prepared!() });
      } else abort.abort();
    } catch (err) {
      reply({
        t: 'failed',
        message: err instanceof Error ? (err.stack ?? err.message) : String(err),
      });
    }
  })();
});

process.on('disconnect', () => process.exit(0));
