import { describe, expect, it } from 'vitest';
import { displayName, label } from '../../../../src/cli/chat/display-name.js';

const USER = '7275141742612';
const GROUP = '9000000001400';

describe('how a number is shown (the local nickname first)', () => {
  it.each([
    // nickname, server name, user shown as, group shown as
    ['Ally', 'Alice', 'Ally (Alice)', '# Ally (Alice)'],
    ['Ally', '', 'Ally', '# Ally'],
    ['', 'Alice', 'Alice', '# Alice'],
    ['', '', USER, '#group …1400'],
    ['Alice', 'Alice', 'Alice', '# Alice'],
    ['  Ally ', ' Alice  ', 'Ally (Alice)', '# Ally (Alice)'],
    ['', '   ', USER, '#group …1400'],
  ])('nickname %j, name %j: a user is %j, a group %j', (nickname, name, user, group) => {
    expect(displayName({ number: USER, kind: 'user', nickname, name })).toBe(user);
    expect(displayName({ number: GROUP, kind: 'group', nickname, name })).toBe(group);
  });

  it('has no label without a nickname or a name, so callers can fall back to the number', () => {
    expect(label({ nickname: '', name: '' })).toBeUndefined();
    expect(label({ nickname: 'Bob', name: '' })).toBe('Bob');
  });
});
