#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { serveCommand } from './serve.js';

const program = new Command('zapwire')
  .description('zapwire: store-and-forward messaging over persistent TCP push sessions')
  .version('0.1.0')
  .addCommand(serveCommand())
  .showHelpAfterError('(add --help for usage)');

// Bad usage exits 2 (commander's own default is 1), after commander has said what is wrong.
program.exitOverride();
for (const command of program.commands) command.exitOverride();

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    const ok = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help';
    process.exit(ok ? 0 : 2);
  }
  throw err;
}
