// Bundle entry for dist/keel-init.js.
import { main } from './main.js';

main(process.argv.slice(2));
