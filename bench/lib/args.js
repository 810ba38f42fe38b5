'use strict';
/** The number after `--<name>` on the command line, else `fallback`. */
function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

module.exports = { arg };
