// The chat page's markdown: a small CommonMark/GFM subset (fenced code, headings, lists, quotes,
// tables, rules; inline code, emphasis, strikethrough, http(s) links), parsed into a tree and built
// with createElement / createTextNode only. Model text is untrusted: nothing it says is ever parsed
// as HTML (no innerHTML anywhere), a link is kept only when its URL is http: or https:, and an
// unfinished construct (a fence or `**` still streaming) shows as plain text until it closes.
// Plain ES module, no dependency: the gateway serves it as /markdown.js.

const FENCE = /^( {0,3})(`{3,}|~{3,})\s*([^`\s]*)[^`]*$/;
const HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const RULE = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
const QUOTE = /^ {0,3}> ?(.*)$/;
const ITEM = /^( {0,3})([-*+]|\d{1,9}[.)])(?:([ \t]+)(.*))?$/;
const TABLE_DELIMITER = /^ {0,3}\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$/;

const blank = (line) => line.trim() === '';
const indentOf = (line) => /^ */.exec(line)[0].length;
const startsBlock = (line) =>
  FENCE.test(line) || HEADING.test(line) || RULE.test(line) || QUOTE.test(line) || ITEM.test(line);

/** Splits a table row into cells (outer pipes optional; `\|` stays in its cell). */
function cells(line) {
  const row = line
    .trim()
    .replace(/^\|/, '')
    .replace(/(?<!\\)\|$/, '');
  return row.split(/(?<!\\)\|/).map((cell) => cell.trim().replace(/\\\|/g, '|'));
}

/** One list (consecutive items of one kind) from `lines[start]`: its node and the next line index. */
function parseList(lines, start) {
  const first = ITEM.exec(lines[start]);
  const ordered = /\d/.test(first[2]);
  const kind = (m) => (ordered ? m[2].slice(-1) : m[2]);
  const items = [];
  let i = start;
  let match = first;
  while (match && kind(match) === kind(first)) {
    // The item's content column: past the marker and its spaces (one space if it has 5 or more, as
    // CommonMark 5.2 says, so an indented code line inside an item stays indented).
    const gap = match[3] ? match[3].length : 1;
    const column = match[1].length + match[2].length + (gap > 4 ? 1 : gap);
    const body = [match[4] ?? ''];
    i++;
    while (i < lines.length) {
      const line = lines[i];
      if (blank(line)) {
        let next = i + 1;
        while (next < lines.length && blank(lines[next])) next++;
        if (next < lines.length && indentOf(lines[next]) >= column) {
          body.push('');
          i++;
          continue;
        }
        break;
      }
      if (indentOf(line) >= column) body.push(line.slice(column));
      else if (!startsBlock(line) && !blank(body[body.length - 1])) body.push(line.trim());
      else break;
      i++;
    }
    items.push(parseBlocks(body));
    let after = i;
    while (after < lines.length && blank(lines[after])) after++;
    match = after < lines.length ? ITEM.exec(lines[after]) : null;
    if (match && kind(match) === kind(first)) i = after;
  }
  const node = { type: 'list', ordered, items };
  if (ordered) node.start = Number(first[2].slice(0, -1));
  return [node, i];
}

/** Block structure of some lines. */
function parseBlocks(lines) {
  const blocks = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    let m;
    if (blank(line)) {
      i++;
    } else if ((m = FENCE.exec(line))) {
      const [, indent, fence, info] = m;
      const body = [];
      i++;
      while (i < lines.length) {
        const close = /^ {0,3}(`{3,}|~{3,})[ \t]*$/.exec(lines[i]);
        if (close && close[1][0] === fence[0] && close[1].length >= fence.length) {
          i++;
          break;
        }
        // Lines lose as many leading spaces as the opening fence had (CommonMark 4.5).
        body.push(lines[i].replace(new RegExp(`^ {0,${indent.length}}`), ''));
        i++;
      }
      blocks.push({ type: 'codeblock', lang: info, text: body.join('\n') });
    } else if ((m = HEADING.exec(line))) {
      blocks.push({ type: 'heading', level: m[1].length, children: parseInline(m[2] ?? '') });
      i++;
    } else if (RULE.test(line)) {
      blocks.push({ type: 'rule' });
      i++;
    } else if (QUOTE.test(line)) {
      const body = [];
      while (i < lines.length && (m = QUOTE.exec(lines[i]))) {
        body.push(m[1]);
        i++;
      }
      blocks.push({ type: 'quote', children: parseBlocks(body) });
    } else if (ITEM.test(line)) {
      const [list, next] = parseList(lines, i);
      blocks.push(list);
      i = next;
    } else if (line.includes('|') && i + 1 < lines.length && TABLE_DELIMITER.test(lines[i + 1])) {
      const head = cells(line);
      const align = cells(lines[i + 1]).map((c) =>
        c.endsWith(':') ? (c.startsWith(':') ? 'center' : 'right') : c.startsWith(':') ? 'left' : '',
      );
      const rows = [];
      i += 2;
      while (i < lines.length && !blank(lines[i]) && lines[i].includes('|')) rows.push(cells(lines[i++]));
      const row = (texts) => head.map((_, k) => parseInline(texts[k] ?? ''));
      blocks.push({ type: 'table', align, head: row(head), rows: rows.map(row) });
    } else {
      const body = [];
      while (i < lines.length && !blank(lines[i]) && (body.length === 0 || !startsBlock(lines[i]))) {
        body.push(lines[i].trim());
        i++;
      }
      blocks.push({ type: 'paragraph', children: parseInline(body.join('\n')) });
    }
  }
  return blocks;
}

/** The URL of a link if it is http(s), else undefined (javascript:, data:, relative, malformed). */
export function safeHref(text) {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : undefined;
  } catch {
    return undefined;
  }
}

const PUNCTUATION = /[!-/:-@[-`{-~]/;
const EMPHASIS = [
  ['**', 'strong'],
  ['__', 'strong'],
  ['~~', 'del'],
  ['*', 'em'],
  ['_', 'em'],
];

/** `[label](url)` at `text[start]`: [label, url, end] or undefined. */
function linkAt(text, start) {
  let depth = 0;
  let close = -1;
  for (let k = start; k < text.length; k++) {
    if (text[k] === '\\') k++;
    else if (text[k] === '[') depth++;
    else if (text[k] === ']' && --depth === 0) {
      close = k;
      break;
    }
  }
  if (close < 0 || text[close + 1] !== '(') return undefined;
  const m = /^\(\s*<?([^\s<>()]*(?:\([^\s()]*\)[^\s<>()]*)*)>?(?:\s+"[^"]*")?\s*\)/.exec(
    text.slice(close + 1),
  );
  return m ? [text.slice(start + 1, close), m[1], close + 1 + m[0].length] : undefined;
}

/** Inline nodes of one paragraph's (or cell's, or heading's) text. */
export function parseInline(text) {
  const out = [];
  let plain = '';
  const flush = () => {
    if (plain) out.push({ type: 'text', text: plain });
    plain = '';
  };
  let i = 0;
  outer: while (i < text.length) {
    const c = text[i];
    if (c === '\\' && PUNCTUATION.test(text[i + 1] ?? '')) {
      plain += text[i + 1];
      i += 2;
      continue;
    }
    if (c === '`') {
      const run = /^`+/.exec(text.slice(i))[0];
      let close = text.indexOf(run, i + run.length);
      while (close >= 0 && text[close + run.length] === '`') {
        close = text.indexOf(run, close + run.length + 1);
      }
      if (close >= 0) {
        let code = text.slice(i + run.length, close).replace(/\n/g, ' ');
        if (/^ .*[^ ].* $/.test(code)) code = code.slice(1, -1);
        flush();
        out.push({ type: 'code', text: code });
        i = close + run.length;
      } else {
        plain += run;
        i += run.length;
      }
      continue;
    }
    if (c === '[') {
      const link = linkAt(text, i);
      if (link) {
        const [label, url, end] = link;
        const href = safeHref(url);
        flush();
        // An unsafe URL: its label stays, as text, and the URL is dropped.
        if (href) out.push({ type: 'link', href, children: parseInline(label) });
        else out.push(...parseInline(label));
        i = end;
        continue;
      }
    }
    for (const [mark, type] of EMPHASIS) {
      if (!text.startsWith(mark, i) || /\s/.test(text[i + mark.length] ?? ' ')) continue;
      // `_` inside a word (snake_case) is not emphasis.
      if (mark[0] === '_' && /\w/.test(text[i - 1] ?? '')) continue;
      let close = text.indexOf(mark, i + mark.length + 1);
      while (close >= 0) {
        const single = mark.length === 1 && text[close + 1] === mark;
        const spaced = /\s/.test(text[close - 1]);
        const intraword = mark[0] === '_' && /\w/.test(text[close + mark.length] ?? '');
        if (!single && !spaced && !intraword) break;
        close = text.indexOf(mark, close + (single ? 2 : 1));
      }
      if (close < 0) continue;
      flush();
      out.push({ type, children: parseInline(text.slice(i + mark.length, close)) });
      i = close + mark.length;
      continue outer;
    }
    const bare = /^https?:\/\/[^\s<>()]*[^\s<>().,;:!?'"*_~]/.exec(text.slice(i));
    if (bare && !/\w/.test(text[i - 1] ?? '') && safeHref(bare[0])) {
      flush();
      out.push({ type: 'link', href: safeHref(bare[0]), children: [{ type: 'text', text: bare[0] }] });
      i += bare[0].length;
      continue;
    }
    plain += c;
    i++;
  }
  flush();
  return out;
}

/** The markdown tree of a text (blocks with inline children). */
export function parseMarkdown(text) {
  return parseBlocks(String(text).replace(/\r\n?/g, '\n').replace(/\t/g, '    ').split('\n'));
}

const TAGS = { paragraph: 'p', quote: 'blockquote', rule: 'hr', strong: 'strong', em: 'em', del: 'del' };

/** DOM nodes of a tree, made with `doc` (`document` in the page). */
function build(node, doc) {
  const el = (tag, children) => {
    const e = doc.createElement(tag);
    for (const child of children) e.append(build(child, doc));
    return e;
  };
  switch (node.type) {
    case 'text':
      return doc.createTextNode(node.text);
    case 'code': {
      const code = doc.createElement('code');
      code.textContent = node.text;
      return code;
    }
    case 'codeblock': {
      const pre = doc.createElement('pre');
      const code = doc.createElement('code');
      // The language only as a class name, and only when it looks like one.
      if (/^[\w+#.-]{1,32}$/.test(node.lang)) code.className = `language-${node.lang}`;
      code.textContent = node.text;
      pre.append(code);
      return pre;
    }
    case 'heading':
      return el(`h${node.level}`, node.children);
    case 'list': {
      const list = doc.createElement(node.ordered ? 'ol' : 'ul');
      if (node.ordered && node.start !== 1) list.setAttribute('start', String(node.start));
      for (const item of node.items) list.append(el('li', item));
      return list;
    }
    case 'link': {
      const a = el('a', node.children);
      a.setAttribute('href', node.href);
      a.setAttribute('target', '_blank');
      a.setAttribute('rel', 'noopener noreferrer nofollow');
      return a;
    }
    case 'table': {
      const table = doc.createElement('table');
      const row = (cellsOf, tag) => {
        const tr = doc.createElement('tr');
        cellsOf.forEach((children, k) => {
          const cell = el(tag, children);
          if (node.align[k]) cell.setAttribute('align', node.align[k]);
          tr.append(cell);
        });
        return tr;
      };
      const thead = doc.createElement('thead');
      thead.append(row(node.head, 'th'));
      const tbody = doc.createElement('tbody');
      for (const r of node.rows) tbody.append(row(r, 'td'));
      table.append(thead, tbody);
      return table;
    }
    default:
      return el(TAGS[node.type], node.children ?? []);
  }
}

/** A text's markdown as a DocumentFragment built with `doc` (model text never becomes HTML). */
export function renderMarkdown(text, doc) {
  const fragment = doc.createDocumentFragment();
  for (const block of parseMarkdown(text)) fragment.append(build(block, doc));
  return fragment;
}
