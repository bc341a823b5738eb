import { Code } from '../../../protocol/codes.js';
import type { Frame } from '../../../protocol/frame.js';
import type { Session } from '../session.js';
import { handleAck } from './ack.js';
import { handleCreateGroup } from './create-group.js';
import { handleIsValid } from './is-valid.js';
import { handleNameGroup } from './name-group.js';
import { handleNameOf } from './name-of.js';
import { handleOpenSession } from './open-session.js';
import { handlePoll } from './poll.js';
import { handleRegister } from './register.js';
import { handleSend } from './send.js';

export type Handler = (session: Session, frame: Frame) => void;

/** One handler per code a client may send; the session checks state and src before calling them. */
export const HANDLERS: Readonly<Record<string, Handler>> = Object.freeze({
  [Code.Register]: handleRegister,
  [Code.Poll]: handlePoll,
  [Code.OpenSession]: handleOpenSession,
  [Code.Send]: handleSend,
  [Code.Ack]: handleAck,
  [Code.CreateGroup]: handleCreateGroup,
  [Code.NameOf]: handleNameOf,
  [Code.NameGroup]: handleNameGroup,
  [Code.IsValid]: handleIsValid,
});
