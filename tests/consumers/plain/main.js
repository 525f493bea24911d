// Downloads a file from the fixture server with the installed package and checks every byte
// (check.js is copied here from tests/consumers/shared by scripts/consumer-test.sh).
import { run } from './check.js';

run('consumer-plain');
