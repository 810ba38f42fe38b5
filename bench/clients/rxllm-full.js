'use strict';
// rxllm with retryBackoff() and partialToolCallGuard() in the chain (see ./rxllm.js).
const rxllm = require('./rxllm');

module.exports = { create: (opts) => rxllm.create({ ...opts, full: true }) };
