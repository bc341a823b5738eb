/**
 * The broker's specification once more, on the other way of running a turn:
 * its requests one after the other, each store call made at once
 * (Turn.callNow, how the broker runs on SQLite and memory). The files
 * imported below run, by themselves, with calls gathered into steps (how it
 * runs on PostgreSQL); both must hold the same rules.
 */
import { BrokerHarness } from './broker-harness.js';

BrokerHarness.turns = 'immediate';

await import('./broker-containment.test.js');
await import('./broker-group-commit.test.js');
await import('./broker-names.test.js');
await import('./broker-push.test.js');
await import('./broker-quotas.test.js');
await import('./broker-receipts.test.js');
await import('./broker-text.test.js');
await import('./broker-wire.test.js');
