// Bundle entry for dist/keel.js.
import { main } from './main.js';

process.exitCode = await main(process.argv.slice(2));
