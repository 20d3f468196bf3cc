// The page's entry: sign in (or resume this tab's session), then the app.

import './styles.css';
import { Client } from './client';
import { currentSession, endSession, saveSession, type Session } from './session';
import { AppView } from './views/app';
import { loginView } from './views/login';

const root = document.getElementById('app')!;
let current: { client: Client; view: AppView } | null = null;

function signedIn(s: Session): void {
  saveSession(s);
  const client = new Client(s, (why) => signOut(why));
  const view = new AppView(client, () => signOut());
  current = { client, view };
  root.replaceChildren(view.el);
  client.start();
  view.start();
}

function signOut(why?: string): void {
  current?.client.stop();
  current?.view.dispose();
  current = null;
  endSession(false);
  if (location.hash) history.replaceState(null, '', location.pathname);
  root.replaceChildren(loginView(signedIn, why));
}

const s = currentSession();
if (s) signedIn(s);
else root.replaceChildren(loginView(signedIn));
