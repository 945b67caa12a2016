/** Powertools' Logger by name, for logger.ts's deferred `import()` (as runtime/shared/esdk.ts does for the Encryption SDK). */
export { Logger } from '@aws-lambda-powertools/logger';
