/**
 * Reads the ASCII marble diagrams of an operator's TSDoc so a spec can run them: the diagram in the
 * docs and the behaviour can then never disagree.
 *
 * Format (inside the ``` fence of the TSDoc block right above `export function <name>`):
 *   a header line (the call the diagrams below it use), then diagrams separated by blank lines;
 *   each diagram line is `label:  marble   (note)`. The column where a marble starts is its time
 *   offset from the first line (an inner observable indented by 3 is subscribed at frame 3).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface DiagramLine {
  label: string;
  marble: string;
  /** Frames between the start of the `source:` marble and the start of this one. */
  offset: number;
  note: string;
}

export interface Diagram {
  header: string;
  lines: Map<string, DiagramLine>;
}

/** The diagrams of the TSDoc of `export function name` in `file` (relative to the repository root). */
export function docDiagrams(file: string, name: string): Diagram[] {
  const text = readFileSync(join(__dirname, '..', '..', file), 'utf8');
  const blocks = [
    ...text.matchAll(new RegExp(String.raw`/\*\*([\s\S]*?)\*/\s*export function ${name}\b`, 'g')),
  ]
    .map((m) => m[1])
    .filter((b) => b.includes('```'));
  if (blocks.length !== 1) throw new Error(`${file}: expected one TSDoc block with a diagram above ${name}`);
  const body = blocks[0].split('```')[1];
  const raw = body.split('\n').map((l) => l.replace(/^\s*\* ?/, ''));
  const diagrams: Diagram[] = [];
  let header = '';
  let current: (Diagram & { base?: number }) | undefined;
  for (const line of raw) {
    if (line.trim() === '') {
      current = undefined;
      continue;
    }
    const m = /^(\w+):(\s+)(\S+)\s*(?:\((.*)\))?\s*$/.exec(line);
    if (!m) {
      header = line.trim();
      current = undefined;
      continue;
    }
    const [, label, , marble, note = ''] = m;
    const column = line.indexOf(marble, label.length + 1);
    if (!current) {
      current = { header, lines: new Map() };
      diagrams.push(current);
    }
    // Offsets count from the first line of the diagram (`source:` where there is one).
    current.base ??= column;
    current.lines.set(label, { label, marble, offset: column - current.base, note: note.trim() });
  }
  return diagrams.map(({ header, lines }) => ({ header, lines }));
}
