import { afterEach, describe, expect, it, vi } from 'vitest';
import { ChatState } from '../../../../src/cli/chat/chat-state.js';
import { ChatStore } from '../../../../src/cli/chat/chat-store.js';
import { NameLookup } from '../../../../src/cli/chat/name-lookup.js';
import type { NameInfo } from '../../../../src/client/zapwire-client.js';
import {
  ConnectionError,
  ForbiddenError,
  MalformedRequestError,
  NotFoundError,
} from '../../../../src/errors.js';

const SELF = '1000000000001';
const BOB = '2000000000002';
const GROUP = '9000000000009';

const stores: ChatStore[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
});

/** A lookup over an in-memory history and a source answering from `answers` (an Error rejects). */
function setup(answers: Record<string, NameInfo | Error>) {
  const store = new ChatStore(':memory:');
  stores.push(store);
  const state = new ChatState(store, SELF);
  const asked: string[] = [];
  const source = {
    nameOf: async (n: string) => {
      asked.push(n);
      const answer = answers[n];
      if (answer instanceof Error) throw answer;
      if (!answer) throw new NotFoundError('unknown number');
      return answer;
    },
  };
  const changed = vi.fn();
  return { state, asked, changed, lookup: new NameLookup(source, state, changed), answers };
}

describe('NameLookup', () => {
  it('asks a number the first time and answers from the cache after, until told to refresh', async () => {
    const { state, asked, changed, lookup, answers } = setup({
      [BOB]: { kind: 'user', name: 'Bob' },
    });
    await lookup.ensure(BOB);
    await lookup.ensure(BOB);
    expect(asked).toEqual([BOB]);
    expect(state.nameOf(BOB)).toBe('Bob');
    expect(changed).toHaveBeenCalledTimes(1);

    answers[BOB] = { kind: 'user', name: 'Robert' };
    await lookup.refresh(BOB);
    expect(asked).toEqual([BOB, BOB]);
    expect(state.nameOf(BOB)).toBe('Robert');
    // The same answer again changes nothing on screen.
    await lookup.refresh(BOB);
    expect(changed).toHaveBeenCalledTimes(2);
  });

  it('keeps the answer in the history db, so another run of the chat need not ask', async () => {
    const { state, asked, lookup } = setup({ [GROUP]: { kind: 'group', name: 'Família' } });
    await lookup.ensure(GROUP);
    expect(state.cachedName(GROUP)).toMatchObject({ kind: 'group', name: 'Família' });
    const again = new NameLookup({ nameOf: async () => ({ kind: 'group', name: 'x' }) }, state);
    await again.ensure(GROUP);
    expect(asked).toEqual([GROUP]);
    expect(state.nameOf(GROUP)).toBe('Família');
  });

  it('asks one number once at a time, and never about this user', async () => {
    const { asked, lookup } = setup({ [BOB]: { kind: 'user', name: 'Bob' } });
    await Promise.all([lookup.refresh(BOB), lookup.refresh(BOB), lookup.ensure(SELF)]);
    expect(asked).toEqual([BOB]);
  });

  it('shows the number again after 403 (no longer a member) or 404', async () => {
    const { state, lookup, answers, changed } = setup({
      [GROUP]: { kind: 'group', name: 'Família' },
    });
    state.groupCreated({ type: 'groupCreated', group: GROUP, creator: BOB, ts: 1 });
    await lookup.refresh(GROUP);
    expect(state.nameOf(GROUP)).toBe('Família');
    answers[GROUP] = new ForbiddenError('not a member');
    await lookup.refresh(GROUP);
    expect(state.nameOf(GROUP)).toBe(GROUP);
    expect(state.cachedName(GROUP)).toBeUndefined();
    expect(changed).toHaveBeenCalledTimes(2);
  });

  it('keeps what it knew when the server cannot be asked (offline, a timeout)', async () => {
    const { state, lookup, answers } = setup({ [BOB]: { kind: 'user', name: 'Bob' } });
    await lookup.ensure(BOB);
    answers[BOB] = new ConnectionError('not connected');
    await expect(lookup.refresh(BOB)).resolves.toBeUndefined();
    expect(state.nameOf(BOB)).toBe('Bob');
  });

  it('stops asking after a 400: a server older than names closes the session on 12', async () => {
    const { asked, lookup } = setup({
      [BOB]: new MalformedRequestError('unknown code 12'),
      [GROUP]: { kind: 'group', name: 'Família' },
    });
    await lookup.refreshAll([BOB, GROUP]);
    await lookup.refresh(GROUP);
    expect(asked).toEqual([BOB]);
  });

  it('learns from the answer that a contact recorded as a user is a group', async () => {
    const { state, lookup } = setup({ [GROUP]: { kind: 'group', name: 'Família' } });
    state.sentElsewhere(GROUP, 'hi', 1);
    expect(state.contact(GROUP)?.kind).toBe('user');
    await lookup.ensure(GROUP);
    expect(state.contact(GROUP)).toMatchObject({ kind: 'group', name: 'Família' });
  });
});
