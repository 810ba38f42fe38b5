import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'bench/node_modules/**',
      'bench/results/**',
      'coverage/**',
      'api-docs/**',
      '.scratch/**',
      '.pack-check/**',
      'examples/angular/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'off',
      'no-restricted-imports': ['error', { patterns: ['rxjs/internal/*'] }],
    },
  },
  {
    files: ['**/*.cjs', 'scripts/**', 'bench/**/*.js', 'bench/**/*.mjs'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
