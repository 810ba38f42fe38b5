// Barrel of rxllm/testing.
