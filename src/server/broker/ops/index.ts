import { ack } from './ack.js';
import { createGroup } from './create-group.js';
import {
  legacyCreateGroup,
  legacyDelivered,
  legacyFetch,
  legacyRegister,
  legacySend,
} from './legacy.js';
import { nameGroup, nameOf } from './names.js';
import type { OpTable } from './op.js';
import { poll } from './poll.js';
import { register } from './register.js';
import { authSend, send } from './send.js';
import { close, open, writable } from './sessions.js';
import { sync } from './sync.js';
import { validate } from './validate.js';

export type { OpContext } from './op.js';

/**
 * Every broker op and its handler, typed by the op: a handler must take that
 * op's request and return that op's reply (thread-messages.ts
 * BrokerReplies), and an op without an entry does not compile. The flags say
 * what the group commit does around a request (broker.ts flush).
 */
export const OPS: OpTable = Object.freeze({
  register: { handle: register, writes: true },
  open: { handle: open },
  close: { handle: close },
  send: { handle: send },
  ack: { handle: ack },
  poll: { handle: poll },
  writable: { handle: writable },
  sync: { handle: sync },
  createGroup: { handle: createGroup, writes: true },
  validate: { handle: validate },
  nameOf: { handle: nameOf },
  nameGroup: { handle: nameGroup, writes: true },
  authSend: { handle: authSend },
  legacyRegister: { handle: legacyRegister, writes: true },
  legacySend: { handle: legacySend },
  legacyCreateGroup: { handle: legacyCreateGroup, writes: true },
  legacyFetch: { handle: legacyFetch },
  legacyDelivered: { handle: legacyDelivered },
});
