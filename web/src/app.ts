import { Chat } from './chat.js';
import { type Account, forgetAccount, loadAccount, saveAccount } from './credentials.js';
import { webSocketUrl } from './frame-socket.js';
import { History } from './history.js';
import { PushSession, register } from './session.js';
import { loginView } from './views/login-view.js';
import { ShellView } from './views/shell-view.js';

/**
 * The web chat: the sign-in page until this browser has an account
 * (localStorage), then the chat over a push session on the WebSocket
 * transport, with its history in IndexedDB.
 */
export function start(root: HTMLElement): void {
  const account = loadAccount();
  if (account) void signedIn(root, account);
  else showLogin(root);
}

function showLogin(root: HTMLElement, problem?: string): void {
  const url = webSocketUrl(location);
  root.replaceChildren(
    loginView(
      {
        register: async (name) => {
          const account = await register(url, name);
          saveAccount(account);
          await signedIn(root, account);
        },
        signIn: async (account) => {
          saveAccount(account);
          await signedIn(root, account);
        },
      },
      problem,
    ),
  );
}

async function signedIn(root: HTMLElement, account: Account): Promise<void> {
  const history = await History.open(account.number);
  const chat = new Chat(account.number, history);
  await chat.load();
  const visibility = () => chat.setVisible(document.visibilityState === 'visible');
  const leave = async (problem?: string) => {
    document.removeEventListener('visibilitychange', visibility);
    session.stop();
    history.close();
    forgetAccount();
    await History.remove(account.number);
    showLogin(root, problem);
  };
  const session: PushSession = new PushSession(webSocketUrl(location), account, {
    state: (state) => {
      shell.showState(state);
      if (state.kind === 'unauthorized')
        void leave(`the server refused number ${account.number} with this token (${state.reason})`);
    },
    delivery: (frame) => chat.delivered(frame),
    opened: () => chat.opened(session),
  });
  const shell = new ShellView(chat, account, {
    signOut: () => void leave(),
    retryNow: () => session.retryNow(),
    // The other window's session is replaced in turn; this page starts again from its history.
    useHere: () => location.reload(),
  });
  root.replaceChildren(shell.element);
  document.addEventListener('visibilitychange', visibility);
  visibility();
  session.start();
}
