'use strict';
// Summarises a .cpuprofile (from `node --cpu-prof`): self time by function and by file, top N.
// `node bench/lib/profile-summary.js FILE.cpuprofile [N]`
const fs = require('node:fs');
const path = require('node:path');

const [file, topArg] = process.argv.slice(2);
const top = Number(topArg || 25);
const prof = JSON.parse(fs.readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const self = new Map();
const dt = prof.timeDeltas;
for (let i = 0; i < prof.samples.length; i++) {
  self.set(prof.samples[i], (self.get(prof.samples[i]) || 0) + (dt[i] || 0));
}
const total = [...self.values()].reduce((a, b) => a + b, 0);
const fnTotals = new Map();
const fileTotals = new Map();
for (const [id, us] of self) {
  const { callFrame: f } = byId.get(id);
  const where = f.url
    ? f.url
        .replace(/^file:\/\//, '')
        .replace(/.*node_modules\//, 'nm/')
        .replace(process.cwd() + '/', '')
    : '(native)';
  const key = `${where}:${f.functionName || '(anonymous)'}:${f.lineNumber + 1}`;
  fnTotals.set(key, (fnTotals.get(key) || 0) + us);
  const fileKey = f.url ? where : `(${f.functionName})`;
  fileTotals.set(fileKey, (fileTotals.get(fileKey) || 0) + us);
}
const show = (title, map) => {
  console.log(`\n${title} (total ${(total / 1000).toFixed(0)} ms sampled)`);
  [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .forEach(([k, us]) =>
      console.log(
        `${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(1).padStart(8)} ms  ${k}`,
      ),
    );
};
show(`self time by function: ${path.basename(file)}`, fnTotals);
show('self time by file', fileTotals);
