'use strict';

function median(xs) {
  const s = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function min(xs) {
  return Math.min(...xs);
}

function max(xs) {
  return Math.max(...xs);
}

/**
 * Ratio of a client's figure to the floor's, paired by round (runs are interleaved, so round r of both
 * saw the same machine state), then the median over rounds.
 */
function pairedRatio(values, floorValues) {
  const n = Math.min(values.length, floorValues.length);
  const ratios = [];
  for (let i = 0; i < n; i++) ratios.push(values[i] / floorValues[i]);
  return median(ratios);
}

module.exports = { median, min, max, pairedRatio };
