/** Run as a child process by test/logger.int.test.ts: logs N lines, then exits the way argv[3] says. */
import { createLogger } from '../../src/ops/logger.js';

const count = Number(process.argv[2]);
const log = createLogger('info');
for (let i = 0; i < count; i++) log.info({ i, password: 'hunter2-secret' }, 'line');
if (process.argv[3] === 'exit') process.exit(0);
// otherwise the process ends by itself once nothing is left to do (the flush timer must not keep it alive)
