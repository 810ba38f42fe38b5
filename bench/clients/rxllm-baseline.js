'use strict';
// The rxllm client on the build RXLLM_BASELINE_DIST names (e.g. the previous commit's dist/): the
// harness measures it beside the current build, round by round, when that variable is set.
const { rxllmBaseline } = require('../lib/paths');
const { create } = require('./rxllm');

module.exports = { create: (options) => create({ ...options, build: rxllmBaseline }) };
