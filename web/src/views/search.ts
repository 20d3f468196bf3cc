// Searching messages: a box under the sidebar's header, and its results,
// which take the conversation list's place while a search is shown. Enter
// searches (an empty box clears, without asking the server), "More" loads
// the next page, and a result opens its conversation at that message.
// Snippets are what people wrote: they go in as text.

import type { Client } from '../client';
import * as fmt from '../format';
import type { SearchResult } from '../types';
import { h, reconcile, setAttr, setText } from './dom';

const PAGE = 20;

export class SearchBox {
  /** The search box itself. */
  readonly form: HTMLFormElement;
  /** The results, shown instead of the conversation list during a search. */
  readonly panel: HTMLElement;
  private readonly input: HTMLInputElement;
  private readonly list: HTMLElement;
  private readonly status: HTMLElement;
  private readonly more: HTMLButtonElement;
  /** The query shown; '' when there is no search. */
  private query = '';
  private hits: SearchResult[] = [];
  private cursor: string | null = null;
  private loading = false;
  private error: string | null = null;
  /** The hit last opened (conv:seq), marked while its conversation is open. */
  private opened: string | null = null;
  /** Bumped by each new search (and a clear), so older answers are dropped. */
  private generation = 0;

  constructor(
    private readonly client: Client,
    /** Opens a conversation at a message. */
    private readonly found: (conv: string, seq: number) => void,
    /** The search's state changed: redraw. */
    private readonly changed: () => void,
  ) {
    this.input = h('input', {
      type: 'search',
      name: 'q',
      placeholder: 'Search messages',
      'aria-label': 'Search messages',
      autocomplete: 'off',
      enterkeyhint: 'search',
      'data-testid': 'search-input',
      on: {
        // Emptied (typed away, the clear button, Escape): back to the list.
        input: () => {
          if (!this.input.value.trim() && this.query) this.clear();
        },
      },
    });
    this.form = h(
      'form',
      {
        class: 'search',
        role: 'search',
        on: {
          submit: (ev: SubmitEvent) => {
            ev.preventDefault();
            const q = this.input.value.trim();
            if (!q) return this.clear();
            this.query = q;
            void this.run(false);
          },
        },
      },
      this.input,
    );
    this.list = h('div', { class: 'search-list' });
    this.status = h('p', { class: 'search-status', role: 'status', 'data-testid': 'search-status' });
    this.more = h(
      'button',
      { type: 'button', class: 'link search-more', 'data-testid': 'search-more', on: { click: () => void this.run(true) } },
      'More',
    );
    this.panel = h(
      'section',
      { class: 'search-results', 'aria-label': 'Search results', 'data-testid': 'search-results', hidden: true },
      this.list,
      this.status,
      this.more,
    );
  }

  /** Whether a search is shown (the conversation list is not). */
  get active(): boolean {
    return this.query !== '';
  }

  private clear(): void {
    this.generation += 1;
    this.query = '';
    this.hits = [];
    this.cursor = null;
    this.opened = null;
    this.loading = false;
    this.error = null;
    this.changed();
  }

  /** The first page of `query`, or (`more`) the next one. */
  private async run(more: boolean): Promise<void> {
    if (more && (this.loading || !this.cursor)) return;
    const generation = more ? this.generation : ++this.generation;
    const cursor = more ? this.cursor ?? undefined : undefined;
    if (!more) {
      this.hits = [];
      this.cursor = null;
    }
    this.loading = true;
    this.error = null;
    this.changed();
    try {
      const page = await this.client.api.search(this.query, { limit: PAGE, cursor });
      if (generation !== this.generation) return;
      const known = new Set(this.hits.map(key));
      this.hits = [...this.hits, ...page.results.filter((r) => !known.has(key(r)))];
      this.cursor = page.next_cursor ?? null;
    } catch (e) {
      if (generation !== this.generation) return;
      this.error = `Could not search: ${e instanceof Error ? e.message : e}`;
    } finally {
      if (generation === this.generation) {
        this.loading = false;
        this.changed();
      }
    }
  }

  render(): void {
    this.panel.hidden = !this.active;
    reconcile(
      this.list,
      this.active ? this.hits : [],
      key,
      (r) => this.createHit(r),
      (el, r) => this.updateHit(el, r),
    );
    let status = '';
    if (this.error) status = this.error;
    else if (this.hits.length === 0) status = this.loading ? 'Searching…' : 'No messages found';
    setText(this.status, status);
    this.status.hidden = !status;
    setAttr(this.status, 'data-state', this.error ? 'error' : this.loading ? 'loading' : 'done');
    this.more.hidden = !this.cursor;
    this.more.disabled = this.loading;
  }

  private createHit(r: SearchResult): HTMLElement {
    const me = this.client.store.me;
    return h(
      'a',
      {
        class: 'search-hit',
        href: `#/c/${encodeURIComponent(r.conv)}`,
        'data-testid': 'search-result',
        'data-conv': r.conv,
        'data-seq': String(r.seq),
        on: {
          click: (ev: MouseEvent) => {
            ev.preventDefault();
            this.opened = key(r);
            this.found(r.conv, r.seq);
          },
        },
      },
      h(
        'div',
        { class: 'hit-top' },
        h('span', { class: 'hit-title', 'data-testid': 'search-title' }),
        h('time', { class: 'hit-time', datetime: new Date(r.ts).toISOString() }, fmt.listTime(r.ts)),
      ),
      h(
        'div',
        { class: 'hit-text' },
        h('span', { class: 'hit-sender', 'data-testid': 'search-sender' }, r.sender === me ? 'You' : r.sender),
        ': ',
        h('span', { class: 'hit-snippet', 'data-testid': 'search-snippet' }, ...marked(r.snippet, this.query)),
      ),
    );
  }

  /** The conversation's title may come later than the hit (the list loads). */
  private updateHit(el: HTMLElement, r: SearchResult): void {
    const c = this.client.store.convs.get(r.conv);
    setText(el.querySelector('.hit-title')!, c ? this.client.store.title(c) : r.conv);
    const current = this.opened === key(r) && this.client.store.open === r.conv;
    setAttr(el, 'aria-current', current ? 'true' : null);
  }
}

function key(r: SearchResult): string {
  return `${r.conv}:${r.seq}`;
}

/** The snippet as text, with the words searched for in <mark>s. */
function marked(snippet: string, query: string): (string | Node)[] {
  const words = query
    .split(/[^\p{L}\p{N}_]+/u)
    .filter(Boolean)
    .sort((a, b) => b.length - a.length)
    .map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  if (words.length === 0) return [snippet];
  const out: (string | Node)[] = [];
  let at = 0;
  for (const m of snippet.matchAll(new RegExp(words.join('|'), 'giu'))) {
    if (m.index > at) out.push(snippet.slice(at, m.index));
    out.push(h('mark', {}, m[0]));
    at = m.index + m[0].length;
  }
  if (at < snippet.length) out.push(snippet.slice(at));
  return out;
}
