/** docs/protocol.md §Codes: which codes exist, and which a client may send. */
import { describe, expect, it } from 'vitest';
import { Code, isClientCode, isKnownCode } from '../../../src/protocol/codes.js';

describe('docs/protocol.md §Codes', () => {
  it('knows every code of the table, §Names (12 to 15) included, and no other', () => {
    const table = ['01', '02', '03', '04', '05', '06', '07', '08', '09', '10', '11'];
    const names = ['12', '13', '14', '15'];
    for (const code of [...table, ...names, '19', '20']) expect(isKnownCode(code)).toBe(true);
    for (const code of ['00', '16', '18', '21', '99']) expect(isKnownCode(code)).toBe(false);
  });

  it('takes 12 (whose number is this?) and 14 (name a group) from a client; 13 and 15 only the server sends', () => {
    expect(isClientCode(Code.NameOf)).toBe(true);
    expect(isClientCode(Code.NameGroup)).toBe(true);
    expect(isClientCode(Code.Name)).toBe(false);
    expect(isClientCode(Code.GroupNamed)).toBe(false);
  });

  it('lets a client send exactly the C→S codes of the table', () => {
    const clientCodes = Object.values(Code).filter(isClientCode).sort();
    expect(clientCodes).toEqual(['01', '03', '04', '05', '08', '10', '12', '14', '19']);
  });
});
