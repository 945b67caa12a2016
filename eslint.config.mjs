// ESLint flat config: typescript-eslint's recommended rules, a few import habits, and the boundary between the
// CDK app (lib/) and the code it deploys (runtime/). Formatting is Prettier's job (eslint-config-prettier last).
// typescript-eslint's parser needs TypeScript's JS API, which TypeScript 7 (native) lacks: package.json's `typescript`
// is the official TS 6 API package, and `typecheck` runs TypeScript 7.0.2 (`typescript7`). See docs/linting.md.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import { importX } from 'eslint-plugin-import-x';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      'cdk.out/**',
      'cdk.out.*/**',
      '.cdk.staging/**',
      '.scratch/**',
      '.cubicle-local/**',
      'runtime/agent/dist/**',
      'cli/dist/**',
      'console/dist/**',
    ],
  },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { ...globals.node },
    },
    plugins: { 'import-x': importX },
    rules: {
      'import-x/no-duplicates': 'error',
      'import-x/first': 'error',
      // A `let` declared first and assigned once later is how a closure refers to something created after it
      // (a server whose handler needs the server): that read-before-assign form stays a `let`.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // A leading underscore marks a parameter kept for its position, and a rest sibling is how an object is copied
      // without some keys (`const { secret: _secret, ...rest } = value`).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
    },
  },
  {
    // Tests and review scripts walk synthesized CloudFormation templates and cdk-nag results: untyped JSON whose
    // shape each test asserts itself; typing every walk would add casts, not checks.
    files: ['test/**', 'scripts/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // Plain CommonJS scripts run by node directly (stand-in provider CLIs): require() is how they load modules.
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['console/src/**'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    files: ['lib/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              // The infrastructure shares formats with the handlers through runtime/shared/ (environment variable
              // names, the roster file and the origin header in runtime/shared/function-contract.ts). The route
              // registry lives beside the API handlers that own it; runtime/agent/build is the bundler synth runs
              // before hashing the image's context (as it builds the console). Anything else under runtime/ is
              // handler code. test/app/boundary.test.ts checks the same.
              regex: '^(\\.\\./)+runtime/(?!shared/|control-plane/routes$|agent/build$)',
              message: 'lib/ imports from runtime/shared/ only: move what both sides need there.',
            },
          ],
        },
      ],
    },
  },
  prettier,
);
