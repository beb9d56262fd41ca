/**
 * Runs a command with CALLCAST_TEST_DATABASE_URL pointing at a PostgreSQL server. When the variable
 * is already set, that server is used; otherwise a throw-away local server is started on 127.0.0.1
 * for the duration of the command and removed afterwards.
 */
import { spawn } from 'node:child_process';
import { startPostgres } from '../test/support/postgres.js';

const [command, ...args] = process.argv.slice(2);
if (!command) {
  console.error('usage: with-postgres.ts COMMAND [ARGS...]');
  process.exit(2);
}

const given = process.env.CALLCAST_TEST_DATABASE_URL;
const pg = given ? null : await startPostgres();
const url = given ?? pg!.url;

const child = spawn(command, args, { stdio: 'inherit', env: { ...process.env, CALLCAST_TEST_DATABASE_URL: url } });
const code: number = await new Promise((resolve) => {
  child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
});
if (pg) await pg.stop();
process.exit(code);
