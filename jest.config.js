// Jest runs TypeScript ESM through @swc/jest; Node 20 needs --experimental-vm-modules (see npm test).
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  // the package's own export, as an adopter imports it (package.json "exports", condition "source")
  moduleNameMapper: { '^stepup/resource-server$': '<rootDir>/src/resource-server/index.ts', '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'es6' } }],
  },
  testMatch: ['<rootDir>/src/**/*.test.ts', '<rootDir>/test/**/*.test.ts', '<rootDir>/examples/**/*.test.ts'],
  // the fault harness stops and starts its own stores: `npm run test:faults` (jest.faults.config.js)
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/faults/'],
  testTimeout: 30000,
  maxWorkers: 2,
};
