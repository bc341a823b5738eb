#!/usr/bin/env -S node --max-semi-space-size=2
import { Command, CommanderError } from 'commander';
import { chatCommand } from './chat/chat-command.js';
import { checkCommand } from './check.js';
import { groupCommand } from './group.js';
import { listenCommand } from './listen.js';
import { pollCommand } from './poll.js';
import { registerCommand } from './register.js';
import { sendCommand } from './send.js';
import { serveCommand } from './serve.js';
import { whoamiCommand } from './whoami.js';

const program = new Command('zapwire')
  .description('zapwire: store-and-forward messaging over persistent TCP push sessions')
  .version('0.1.0')
  .addCommand(serveCommand())
  .addCommand(registerCommand())
  .addCommand(sendCommand())
  .addCommand(listenCommand())
  .addCommand(pollCommand())
  .addCommand(groupCommand())
  .addCommand(checkCommand())
  .addCommand(whoamiCommand())
  .addCommand(chatCommand())
  .showHelpAfterError('(add --help for usage)');

// Bad usage exits 2 (commander's own default is 1), after commander has said
// what is wrong. Commands added with addCommand do not inherit the override,
// so it is set on every level (`group create`).
function exitOverrideAll(command: Command): void {
  command.exitOverride();
  for (const sub of command.commands) exitOverrideAll(sub);
}
exitOverrideAll(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    const ok =
      err.code === 'commander.helpDisplayed' ||
      err.code === 'commander.version' ||
      err.code === 'commander.help';
    process.exit(ok ? 0 : 2);
  }
  throw err;
}
