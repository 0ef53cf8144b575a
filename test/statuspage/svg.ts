import { SaxesParser, type SaxesTagNS } from 'saxes';

// The incident chart read back the strict way: XML 1.0 with namespaces (saxes), every element in
// the SVG namespace, or the parse throws.

export interface SvgElement {
  name: string;
  attrs: Record<string, string>;
  children: SvgElement[];
  text: string;
}

/** Parses `xml` strictly (XML 1.0 with namespaces): throws on the first well-formedness error. */
export function parseSvg(xml: string): SvgElement {
  const parser = new SaxesParser({ xmlns: true });
  const stack: SvgElement[] = [];
  let root: SvgElement | null = null;
  parser.on('error', (e) => {
    throw e;
  });
  parser.on('opentag', (t: SaxesTagNS) => {
    if (t.uri !== 'http://www.w3.org/2000/svg') throw new Error(`<${t.name}> is not in the SVG namespace`);
    const el: SvgElement = { name: t.local, attrs: Object.fromEntries(Object.values(t.attributes).map((a) => [a.name, a.value])), children: [], text: '' };
    stack.at(-1)?.children.push(el);
    root ??= el;
    stack.push(el);
  });
  parser.on('text', (x) => {
    const el = stack.at(-1);
    if (el) el.text += x;
  });
  parser.on('closetag', () => stack.pop());
  parser.write(xml).close();
  if (!root) throw new Error('no root element');
  return root;
}

/** Every element under `el` (itself included) that `pred` accepts, in document order. */
export const all = (el: SvgElement, pred: (e: SvgElement) => boolean): SvgElement[] => [...(pred(el) ? [el] : []), ...el.children.flatMap((c) => all(c, pred))];
/** The text of an element's own <title>. */
export const titleOf = (el: SvgElement) => el.children.find((c) => c.name === 'title')?.text ?? null;
