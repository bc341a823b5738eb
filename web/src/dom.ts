/**
 * The only way the web chat makes elements. Text always goes in as text
 * (Text nodes, textContent, attribute values): nothing a user typed, or the
 * server sent, is ever parsed as HTML. There is no innerHTML in web/src.
 */

export type Child = Node | string | null | undefined | false;

export interface Props {
  class?: string;
  /** Attributes, set with setAttribute (values are never markup). */
  attrs?: Record<string, string | undefined>;
  /** Event listeners by event name. */
  on?: Partial<{ [K in keyof HTMLElementEventMap]: (event: HTMLElementEventMap[K]) => void }>;
}

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (props.class) node.className = props.class;
  for (const [name, value] of Object.entries(props.attrs ?? {}))
    if (value !== undefined) node.setAttribute(name, value);
  for (const [name, listener] of Object.entries(props.on ?? {}))
    node.addEventListener(name, listener as EventListener);
  append(node, ...children);
  return node;
}

/** Appends children; a string becomes a Text node. */
export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
  }
}

/** A labelled text input: the label is what a screen reader (and a test) finds it by. */
export function field(
  label: string,
  attrs: Record<string, string | undefined>,
): { wrapper: HTMLLabelElement; input: HTMLInputElement } {
  const input = el('input', { attrs: { type: 'text', autocomplete: 'off', ...attrs } });
  const wrapper = el('label', { class: 'field' }, el('span', {}, label), input);
  return { wrapper, input };
}
