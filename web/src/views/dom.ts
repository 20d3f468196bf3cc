// A few DOM helpers. Everything is built with createElement and textContent:
// no HTML strings (the Content-Security-Policy forbids inline styles, and
// text never becomes markup).

type Child = Node | string | null | undefined | false;
type Props = Record<string, unknown> & {
  class?: string;
  dataset?: Record<string, string>;
  on?: Partial<Record<keyof HTMLElementEventMap, (ev: any) => void>>;
};

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = String(v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'on') {
      for (const [ev, fn] of Object.entries(v as object)) el.addEventListener(ev, fn);
    } else if (k in el && typeof v !== 'string') (el as any)[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

export function append(el: Element, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c);
  }
}

/** Sets text only when it changed (keeps selections and avoids layout work). */
export function setText(el: Element, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

export function setAttr(el: Element, name: string, value: string | null): void {
  if (value === null) {
    if (el.hasAttribute(name)) el.removeAttribute(name);
  } else if (el.getAttribute(name) !== value) el.setAttribute(name, value);
}

/**
 * Makes `parent`'s children the elements of `keys`, in that order, reusing the
 * element made earlier for a key and dropping those whose key is gone.
 */
export function reconcile<T>(
  parent: Element,
  items: T[],
  key: (item: T) => string,
  create: (item: T) => HTMLElement,
  update: (el: HTMLElement, item: T) => void,
): void {
  const existing = new Map<string, HTMLElement>();
  for (const child of Array.from(parent.children) as HTMLElement[]) {
    const k = child.dataset.key;
    if (k !== undefined) existing.set(k, child);
  }
  let cursor: ChildNode | null = parent.firstChild;
  const keep = new Set<HTMLElement>();
  for (const item of items) {
    const k = key(item);
    let el = existing.get(k);
    if (!el) {
      el = create(item);
      el.dataset.key = k;
    }
    update(el, item);
    keep.add(el);
    if (el === cursor) cursor = cursor.nextSibling;
    else parent.insertBefore(el, cursor);
  }
  for (const el of existing.values()) if (!keep.has(el)) el.remove();
}

const SVG = 'http://www.w3.org/2000/svg';

/** A small inline icon from one or more path strings (24×24 view box). */
export function icon(name: string, paths: string[], cls = 'icon'): SVGSVGElement {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', `${cls} icon-${name}`);
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  for (const d of paths) {
    const p = document.createElementNS(SVG, 'path');
    p.setAttribute('d', d);
    svg.append(p);
  }
  return svg;
}

export const ICONS = {
  check: ['M4.5 12.5l4.5 4.5L19.5 6.5'],
  checks: ['M1.5 12.5l4.5 4.5L16.5 6.5', 'M11 16.5l.5.5L22 6.5'],
  clock: ['M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18z', 'M12 7v5.5l3.5 2'],
  alert: ['M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18z', 'M12 7.5v6', 'M12 16.5v.5'],
  back: ['M15 5l-7 7l7 7'],
  send: ['M4 12l16-8l-6 16l-3-7z', 'M11 13l9-9'],
  clip: ['M16.5 6.5l-8 8a2.1 2.1 0 0 0 3 3l8-8a4.2 4.2 0 0 0-6-6l-8 8a6.4 6.4 0 0 0 9 9l6.5-6.5'],
  plus: ['M12 5v14', 'M5 12h14'],
  trash: ['M5 7h14', 'M10 11v6', 'M14 11v6', 'M6 7l1 13h10l1-13', 'M9 7V4h6v3'],
  file: ['M7 3h7l5 5v13H7z', 'M14 3v5h5'],
  download: ['M12 4v11', 'M7 10l5 5l5-5', 'M5 20h14'],
  logout: ['M15 4h4v16h-4', 'M10 8l-4 4l4 4', 'M6 12h10'],
  reply: ['M9 14l-5-5l5-5', 'M4 9h10a6 6 0 0 1 6 6v4'],
  lock: ['M6 11h12v9H6z', 'M8.5 11V8a3.5 3.5 0 0 1 7 0v3', 'M12 15v2'],
  pencil: ['M4 20h4l10.5-10.5a2.1 2.1 0 0 0-4-4L4 16z', 'M13.5 6.5l4 4'],
};
