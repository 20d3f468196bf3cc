// Who this tab is signed in as. A tab keeps its account in sessionStorage,
// so a reload stays signed in while a second window can sign in as someone
// else; localStorage remembers recent accounts (user and device, offered on
// the sign-in screen, which signs in afresh) and a device id for this browser.

export interface Session {
  user: string;
  device: string;
  token: string;
}

const CURRENT = 'chat.session';
const ACCOUNTS = 'chat.accounts';
const DEVICE = 'chat.device';

export const ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
/** The same, for an input's pattern attribute (compiled with the v flag). */
export const ID_INPUT_PATTERN = '[A-Za-z0-9_.\\-]{1,64}';

function read<T>(storage: Storage, key: string): T | null {
  try {
    const raw = storage.getItem(key);
    return raw ? (JSON.parse(raw) as T) : null;
  } catch {
    return null;
  }
}

export function currentSession(): Session | null {
  const s = read<Session>(sessionStorage, CURRENT);
  return s && s.user && s.device && s.token ? s : null;
}

export interface Account {
  user: string;
  device: string;
}

export function recentAccounts(): Account[] {
  return read<Account[]>(localStorage, ACCOUNTS) ?? [];
}

export function saveSession(s: Session): void {
  sessionStorage.setItem(CURRENT, JSON.stringify(s));
  const others = recentAccounts().filter((a) => a.user !== s.user || a.device !== s.device);
  const mine = { user: s.user, device: s.device };
  localStorage.setItem(ACCOUNTS, JSON.stringify([mine, ...others].slice(0, 5)));
}

export function endSession(forget: boolean): void {
  const s = currentSession();
  sessionStorage.removeItem(CURRENT);
  if (forget && s) {
    const left = recentAccounts().filter((a) => a.user !== s.user || a.device !== s.device);
    localStorage.setItem(ACCOUNTS, JSON.stringify(left));
  }
}

/** A device id for this browser, made once: `web-` and six letters. */
export function defaultDevice(): string {
  let d = localStorage.getItem(DEVICE);
  if (!d || !ID_PATTERN.test(d)) {
    d = 'web-' + crypto.randomUUID().replace(/-/g, '').slice(0, 6);
    localStorage.setItem(DEVICE, d);
  }
  return d;
}
