/**
 * The chat page's markdown renderer (src/serve/page/markdown.js, a browser ES module) in Node: the
 * module is loaded as the page loads it (esbuild only turns its `export`s into CommonJS), and renders
 * into a minimal document whose elements refuse any HTML parsing (innerHTML, outerHTML,
 * insertAdjacentHTML throw), so a renderer that parsed model text as HTML would fail here.
 */
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { transformSync } from 'esbuild';

interface Md {
  renderMarkdown(text: string, doc: FakeDocument): FakeNode;
  parseMarkdown(text: string): unknown[];
  safeHref(text: string): string | undefined;
}

function loadPageModule(): Md {
  const file = path.resolve(__dirname, '../../src/serve/page/markdown.js');
  const { code } = transformSync(fs.readFileSync(file, 'utf8'), { format: 'cjs', loader: 'js' });
  const module = { exports: {} as Md };
  // Only what a browser also has: no require, no process.
  vm.runInNewContext(code, { module, exports: module.exports, URL });
  return module.exports;
}

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

class FakeNode {
  children: FakeNode[] = [];
  attributes: [string, string][] = [];
  className = '';
  constructor(
    readonly tagName: string | null,
    public text = '',
  ) {
    for (const name of ['innerHTML', 'outerHTML']) {
      Object.defineProperty(this, name, {
        set() {
          throw new Error(`${name} used`);
        },
      });
    }
  }
  insertAdjacentHTML(): never {
    throw new Error('insertAdjacentHTML used');
  }
  append(...nodes: FakeNode[]) {
    this.children.push(...nodes);
  }
  setAttribute(name: string, value: string) {
    this.attributes.push([name, value]);
  }
  set textContent(value: string) {
    this.children = [new FakeNode(null, value)];
  }
  get textContent(): string {
    return this.tagName === null ? this.text : this.children.map((c) => c.textContent).join('');
  }
  /** Serialised with escaping, to compare structure. */
  html(): string {
    if (this.tagName === null) return escape(this.text);
    const inner = this.children.map((c) => c.html()).join('');
    if (this.tagName === '#fragment') return inner;
    const attrs = [...(this.className ? [['class', this.className]] : []), ...this.attributes]
      .map(([k, v]) => ` ${k}="${escape(v).replace(/"/g, '&quot;')}"`)
      .join('');
    return `<${this.tagName}${attrs}>${inner}</${this.tagName}>`;
  }
}

class FakeDocument {
  createElement(tag: string) {
    return new FakeNode(tag);
  }
  createTextNode(text: string) {
    return new FakeNode(null, text);
  }
  createDocumentFragment() {
    return new FakeNode('#fragment');
  }
}

const md = loadPageModule();
const render = (text: string) => md.renderMarkdown(text, new FakeDocument()).html();

describe('the chat page markdown renderer', () => {
  it('makes a fenced code block <pre><code> with its language, keeping the code as text', () => {
    expect(render('Look:\n\n```js\nif (a < b) {\n  x = "<b>";\n}\n```\nafter')).toBe(
      '<p>Look:</p><pre><code class="language-js">if (a &lt; b) {\n  x = "&lt;b&gt;";\n}</code></pre><p>after</p>',
    );
    expect(render('~~~\nplain\n~~~')).toBe('<pre><code>plain</code></pre>');
  });

  it('shows an unclosed fence (still streaming) as code up to the end', () => {
    expect(render('```py\nprint(1)\n')).toBe('<pre><code class="language-py">print(1)\n</code></pre>');
  });

  it('renders HTML in model text as text: tags, attributes and scripts stay inert', () => {
    const text = 'Hi <img src=x onerror=alert(1)> and <script>alert(2)</script> **<b>x</b>**';
    const html = render(text);
    expect(html).toBe(
      '<p>Hi &lt;img src=x onerror=alert(1)&gt; and &lt;script&gt;alert(2)&lt;/script&gt; <strong>&lt;b&gt;x&lt;/b&gt;</strong></p>',
    );
    expect(md.renderMarkdown(text, new FakeDocument()).textContent).toBe(
      'Hi <img src=x onerror=alert(1)> and <script>alert(2)</script> <b>x</b>',
    );
  });

  it('renders inline code, emphasis, strikethrough, and leaves snake_case alone', () => {
    expect(render('Use `a<b` with **bold**, *em*, _em_, ~~gone~~ and snake_case_name.')).toBe(
      '<p>Use <code>a&lt;b</code> with <strong>bold</strong>, <em>em</em>, <em>em</em>, <del>gone</del> and snake_case_name.</p>',
    );
    expect(render('``a ` b`` and \\*not em\\* and 2 * 3 * 4')).toBe(
      '<p><code>a ` b</code> and *not em* and 2 * 3 * 4</p>',
    );
    expect(render('**unclosed bold')).toBe('<p>**unclosed bold</p>');
  });

  it('renders bullet, ordered and nested lists', () => {
    expect(render('- one\n- two **b**\n  - nested\n- three')).toBe(
      '<ul><li><p>one</p></li><li><p>two <strong>b</strong></p><ul><li><p>nested</p></li></ul></li><li><p>three</p></li></ul>',
    );
    expect(render('3. c\n4. d\n\ntext')).toBe(
      '<ol start="3"><li><p>c</p></li><li><p>d</p></li></ol><p>text</p>',
    );
    expect(render('1) a\n\n2) b')).toBe('<ol><li><p>a</p></li><li><p>b</p></li></ol>');
  });

  it('keeps links only for http(s) URLs; other schemes keep their label as text', () => {
    expect(render('[docs](https://example.com/a_(b)) and https://example.org/x.')).toBe(
      '<p><a href="https://example.com/a_(b)" target="_blank" rel="noopener noreferrer nofollow">docs</a> and ' +
        '<a href="https://example.org/x" target="_blank" rel="noopener noreferrer nofollow">https://example.org/x</a>.</p>',
    );
    for (const url of [
      'javascript:alert(1)',
      'JaVaScRiPt:alert(1)',
      'data:text/html,x',
      '/relative',
      'vbscript:x',
    ]) {
      expect(render(`[click](${url})`)).toBe('<p>click</p>');
    }
    expect(md.safeHref('http://a.b/c d')).toBe('http://a.b/c%20d');
    expect(md.safeHref('ftp://a.b')).toBeUndefined();
  });

  it('renders headings, quotes, rules and tables', () => {
    expect(render('## Title #\n> quoted *x*\n\n---\n\n| a | b |\n|:--|--:|\n| `1` | 2 |')).toBe(
      '<h2>Title</h2><blockquote><p>quoted <em>x</em></p></blockquote><hr></hr>' +
        '<table><thead><tr><th align="left">a</th><th align="right">b</th></tr></thead>' +
        '<tbody><tr><td align="left"><code>1</code></td><td align="right">2</td></tr></tbody></table>',
    );
  });

  it('keeps the lines of a paragraph and every character of the text', () => {
    const text = '你好，世界！\nsecond line: 1 < 2 & 3 > 2';
    expect(render(text)).toBe('<p>你好，世界！\nsecond line: 1 &lt; 2 &amp; 3 &gt; 2</p>');
  });

  it('parses long input in linear time (a 40x longer text takes well under 400x as long)', () => {
    const unit =
      '- item with `code` and **bold** text\n```\ncode\n```\nA paragraph with a [link](https://x.y).\n';
    const time = (n: number) => {
      const text = unit.repeat(n);
      const t0 = performance.now();
      for (let k = 0; k < 5; k++) md.parseMarkdown(text);
      return performance.now() - t0;
    };
    time(50);
    const small = time(50);
    const large = time(2000);
    expect(large / small).toBeLessThan(400);
  });
});
