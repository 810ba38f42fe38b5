'use strict';
// The floor, in a process that also loads rxjs (`rxjs` and `rxjs/operators`, as the rxllm client and
// any rxjs app do) without using it. Measured in B3 only: its cold start is the least any client
// built on rxjs can pay, so "rxllm − this row" is rxllm's own share of a cold start.
const { rxllm } = require('../lib/paths');
const floor = require('./floor');

function create(options) {
  rxllm.rxjs();
  rxllm.rxjsOperators();
  return floor.create(options);
}

module.exports = { create };
