/** The account this browser is signed in as, kept in localStorage until sign-out. */
export interface Account {
  /** 13 digits. */
  number: string;
  /** The secret the server gave at registration: whoever has it can act as the number. */
  token: string;
  /** The display name given at registration, if this browser registered it. */
  name: string;
}

const KEY = 'zapwire.account';

export function loadAccount(): Account | undefined {
  const text = localStorage.getItem(KEY);
  if (text === null) return undefined;
  try {
    const value = JSON.parse(text) as Partial<Account>;
    if (typeof value.number !== 'string' || typeof value.token !== 'string') return undefined;
    return { number: value.number, token: value.token, name: value.name ?? '' };
  } catch {
    return undefined;
  }
}

export function saveAccount(account: Account): void {
  localStorage.setItem(KEY, JSON.stringify(account));
}

export function forgetAccount(): void {
  localStorage.removeItem(KEY);
}
