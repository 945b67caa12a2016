// Moved to scripts/review/ (shared by the tests and `npm run review`).
export * from '../../scripts/review/policies';
