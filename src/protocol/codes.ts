/** The two-digit frame codes of docs/protocol.md §Codes. */
export const Code = {
  Register: '01',
  Registered: '02',
  Poll: '03',
  OpenSession: '04',
  Send: '05',
  Deliver: '06',
  Stored: '07',
  Ack: '08',
  Error: '09',
  CreateGroup: '10',
  GroupCreated: '11',
  NameOf: '12',
  Name: '13',
  NameGroup: '14',
  GroupNamed: '15',
  IsValid: '19',
  Validity: '20',
} as const;

export type Code = (typeof Code)[keyof typeof Code];

const ALL_CODES = new Set<string>(Object.values(Code));

/** Codes a client may send; the others are answers only the server sends. */
const CLIENT_CODES = new Set<string>([
  Code.Register,
  Code.Poll,
  Code.OpenSession,
  Code.Send,
  Code.Ack,
  Code.CreateGroup,
  Code.NameOf,
  Code.NameGroup,
  Code.IsValid,
]);

export function isKnownCode(code: string): code is Code {
  return ALL_CODES.has(code);
}

export function isClientCode(code: string): boolean {
  return CLIENT_CODES.has(code);
}
