import { MalformedRequestError } from '../../../errors.js';
import { Code } from '../../../protocol/codes.js';
import {
  encodeFrame,
  type Frame,
  MAX_GROUP_MEMBERS,
  NUMBER_LENGTH,
} from '../../../protocol/frame.js';
import type { Session } from '../session.js';

/** docs/protocol.md §Delivery guarantees: 1 to 16 whole 13-digit numbers, otherwise 400. */
export function parseMembers(data: string): string[] {
  if (data.length === 0 || data.length % NUMBER_LENGTH !== 0 || !/^[0-9]+$/.test(data)) {
    throw new MalformedRequestError('10 data must be whole 13-digit numbers');
  }
  const members: string[] = [];
  for (let i = 0; i < data.length; i += NUMBER_LENGTH)
    members.push(data.slice(i, i + NUMBER_LENGTH));
  if (members.length > MAX_GROUP_MEMBERS)
    throw new MalformedRequestError(`at most ${MAX_GROUP_MEMBERS} members`);
  return members;
}

/** `10` create group -> `11` with the group's number; every member must be a registered user (404). */
export function handleCreateGroup(session: Session, frame: Frame): void {
  const members = parseMembers(frame.data);
  session.ask(frame, { op: 'createGroup', src: frame.src, ts: frame.ts, members }, (group) => [
    encodeFrame({ code: Code.GroupCreated, dst: group }),
  ]);
}
