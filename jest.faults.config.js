// The fault harness (issue #7, `npm run test:faults`): disposable Redis and Postgres that the tests stop
// and start, stepup as a child process. One file at a time: each starts its own stores and servers.
import base from './jest.config.js';

export default {
  ...base,
  testMatch: ['<rootDir>/test/faults/**/*.fault.test.ts'],
  testPathIgnorePatterns: [],
  testTimeout: 180000,
  maxWorkers: 1,
};
