/** A tiny DOM builder: `h('button', {type: 'button', onclick}, 'Stop')`. */

type Attrs = Record<string, string | number | boolean | null | undefined | ((ev: Event) => void)>;
export type Child = Node | string | number | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === 'function') {
      el.addEventListener(key.replace(/^on/, ''), value as EventListener);
    } else if (value === true) {
      el.setAttribute(key, '');
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el: Element, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`element #${id} is missing`);
  return el as T;
}

/** Replaces an element's children. */
export function render(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

/** A table with one header row of column titles (`thAttrs` on every header cell) over `body`. */
export function tableWithHeads(
  attrs: Attrs,
  columns: readonly string[],
  body: HTMLTableSectionElement,
  thAttrs: Attrs = {},
): HTMLTableElement {
  return h('table', attrs, h('thead', {}, h('tr', {}, ...columns.map((c) => h('th', { scope: 'col', ...thAttrs }, c)))), body);
}
