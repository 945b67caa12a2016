/**
 * The console's shared state outside the pages: the API client, the relay connection (one per tab,
 * shared by every page), the pending approvals with their badge and browser notification, and notices
 * (results and errors, errors with a request id).
 */
import { relayUrl } from '../../settings';
import { ApiClient, describeError, type AgentEvent, type ApprovalView } from '../core/api';
import { RelayClient, type RelayState, type SocketLike } from '../core/relay';
import type { BrowserSession } from './session';

export interface Notice {
  readonly id: number;
  readonly tone: 'ok' | 'error';
  readonly text: string;
}

type Listener = () => void;

const APPROVALS_VISIBLE_MS = 15_000;
const APPROVALS_HIDDEN_MS = 60_000;

export class Store {
  readonly api: ApiClient;
  readonly relay: RelayClient;
  approvals: ApprovalView[] = [];
  approvalsError?: string;
  notices: Notice[] = [];
  relayState: RelayState = 'closed';
  private readonly listeners = new Set<Listener>();
  private readonly eventListeners = new Map<string, Set<(event: AgentEvent) => void>>();
  private readonly seenApprovals = new Set<string>();
  private firstApprovals = true;
  private approvalsTimer?: ReturnType<typeof setTimeout>;
  private noticeId = 0;
  /** Messages this tab sent, by agent: the events do not carry message text. */
  readonly sent = new Map<string, Array<{ messageId: string; text: string; at: string }>>();

  constructor(readonly session: BrowserSession) {
    this.api = new ApiClient({ baseUrl: session.settings.apiUrl || location.origin, token: () => session.token() });
    this.relay = new RelayClient({
      url: relayUrl(session.settings, location.origin),
      token: () => session.token(),
      connect: (url, protocols) => new WebSocket(url, protocols) as unknown as SocketLike,
      fill: async (agentId, after) => (await this.api.events(agentId, after)).events,
      onEvent: (agentId, event) => this.dispatch(agentId, event),
      onState: (state) => {
        this.relayState = state;
        this.changed();
      },
    });
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  changed(): void {
    for (const listener of this.listeners) listener();
  }

  /** Live events of one agent (from the relay, or from the page's own HTTP catch-up). */
  onAgentEvent(agentId: string, listener: (event: AgentEvent) => void): () => void {
    const set = this.eventListeners.get(agentId) ?? new Set();
    set.add(listener);
    this.eventListeners.set(agentId, set);
    return () => set.delete(listener);
  }

  private dispatch(agentId: string, event: AgentEvent): void {
    for (const listener of this.eventListeners.get(agentId) ?? []) listener(event);
    if (event.type.startsWith('approval.')) void this.refreshApprovals();
  }

  notify(tone: Notice['tone'], text: string): void {
    const notice = { id: ++this.noticeId, tone, text };
    this.notices = [...this.notices.slice(-3), notice];
    this.changed();
    if (tone === 'ok') setTimeout(() => this.dismiss(notice.id), 6_000);
  }

  describe(error: unknown): string {
    return describeError(error);
  }

  fail(error: unknown): void {
    this.notify('error', describeError(error));
  }

  dismiss(id: number): void {
    this.notices = this.notices.filter((n) => n.id !== id);
    this.changed();
  }

  startApprovals(): void {
    void this.refreshApprovals();
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') void this.refreshApprovals();
    });
  }

  async refreshApprovals(): Promise<void> {
    if (this.approvalsTimer) clearTimeout(this.approvalsTimer);
    try {
      const approvals = await this.api.approvals();
      const fresh = approvals.filter((a) => !this.seenApprovals.has(a.approvalId));
      for (const a of approvals) this.seenApprovals.add(a.approvalId);
      if (!this.firstApprovals && fresh.length > 0) this.announce(fresh);
      this.firstApprovals = false;
      this.approvals = approvals;
      this.approvalsError = undefined;
    } catch (error) {
      this.approvalsError = describeError(error);
    }
    document.title = this.approvals.length > 0 ? `(${this.approvals.length}) Cubicle` : 'Cubicle';
    this.changed();
    if (this.session.signedIn) {
      this.approvalsTimer = setTimeout(
        () => void this.refreshApprovals(),
        document.visibilityState === 'visible' ? APPROVALS_VISIBLE_MS : APPROVALS_HIDDEN_MS,
      );
    }
  }

  private announce(fresh: ApprovalView[]): void {
    if (typeof Notification === 'undefined' || Notification.permission !== 'granted') return;
    const [first] = fresh;
    const more = fresh.length > 1 ? ` (+${fresh.length - 1} more)` : '';
    const notification = new Notification(`${first.agentId} asks to use ${first.tool}${more}`, {
      body: first.hosts.length > 0 ? first.hosts.join(', ') : first.summary,
      tag: 'cubicle-approvals',
    });
    notification.onclick = () => {
      window.focus();
      location.hash = '#/approvals';
      notification.close();
    };
  }

  removeApproval(approvalId: string): void {
    this.approvals = this.approvals.filter((a) => a.approvalId !== approvalId);
    document.title = this.approvals.length > 0 ? `(${this.approvals.length}) Cubicle` : 'Cubicle';
    this.changed();
  }
}
