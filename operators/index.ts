// Barrel of rxllm/operators: one line per operator file, values and types.
