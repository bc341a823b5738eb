#!/usr/bin/env -S node --max-semi-space-size=2
import { Command, CommanderError } from 'commander';
import { chatCommand } from './chat/chat-command.js';
import { checkCommand } from './check.js';
import { exitCodeForCommander } from './exit-codes.js';
import { groupCommand } from './group.js';
import { listenCommand } from './listen.js';
import { nameCommand } from './name.js';
import { pollCommand } from './poll.js';
import { registerCommand } from './register.js';
import { sendCommand } from './send.js';
import { serveCommand } from './serve.js';
import { reportUsageErrors } from './usage.js';
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
  .addCommand(nameCommand())
  .addCommand(whoamiCommand())
  .addCommand(chatCommand());
reportUsageErrors(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  // Commander has said what is wrong (usage.ts); only the exit code is left.
  if (err instanceof CommanderError) process.exit(exitCodeForCommander(err));
  throw err;
}
