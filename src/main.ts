import { runCli } from './cli/main.js';

// `npm start` = `stepup serve`
process.exit(await runCli(['serve', ...process.argv.slice(2)]));
