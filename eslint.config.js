// ESLint (flat config): JavaScript and typescript-eslint recommended rules; formatting is Prettier's
// (eslint-config-prettier turns off the rules that would fight it).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['node_modules/', '.tools/', 'data/', 'dist/', 'coverage/', '.test-tmp/', 'bench/results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    // Plain Node scripts (install-temporal.mjs and the like).
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly', setTimeout: 'readonly' } },
  },
  {
    // The dashboard's modules run in the browser (served as they are, no build step).
    files: ['src/ui/static/**/*.js'],
    languageOptions: { globals: globals.browser },
  },
  {
    rules: {
      // Event data and Temporal payloads are JSON of many shapes; `any` is spelled out where it is read.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true, caughtErrors: 'none' },
      ],
      // `for (;;)` loops with explicit exits are how the workflows wait.
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
);
