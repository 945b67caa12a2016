/** Entry: reads config.json, completes a sign-in redirect if this is one, and renders the console. */
import { render } from 'preact';
import { parseSettings } from '../../settings';
import { App } from './app';
import { BrowserSession } from './session';
import { Store } from './store';

async function boot(root: HTMLElement): Promise<void> {
  let session: BrowserSession;
  try {
    const response = await fetch('/config.json', { cache: 'no-store' });
    if (!response.ok) throw new Error(`config.json answered ${response.status}`);
    session = await BrowserSession.start(parseSettings(await response.json()));
  } catch (error) {
    render(
      <main class="centered">
        <div class="card narrow" role="alert">
          <h1>Cubicle cannot start</h1>
          <p>{(error as Error).message}</p>
          <p class="muted">Tell your platform team: the console's settings could not be read.</p>
        </div>
      </main>,
      root,
    );
    return;
  }
  render(<App store={new Store(session)} />, root);
}

const root = document.getElementById('app');
if (root) void boot(root);
