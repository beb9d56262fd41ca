/**
 * What `callcast serve` prints after the links when development tokens are on (as `make start`
 * runs it): the steps from an empty server to a call on air, as the pages name them. Pure.
 */

/** The one-line local ingest the README and the console's hint name. */
export const LOCAL_INGEST_COMMAND = 'ffmpeg -listen 1 -i rtmp://127.0.0.1:1935/live/test -c copy out.flv';

export function nextSteps(baseUrl: string): string {
  const url = baseUrl.replace(/\/+$/, '');
  return `
Next steps:
  1. Open ${url}/ in a browser: it is the console, signed in as the development operator.
  2. Create a call: under "Create a call", keep the type "default" and the suggested ID (or type
     one), add a title if you like, press "Create call". The call's page opens.
  3. Join it from two browser tabs: open the call's "Join link" (Copy or Open, under "Invite
     people") in two tabs, enter a display name in each, press "Join". Both appear under
     "Participants" in the console.
  4. Start a broadcast to a local ingest: in another terminal run
       ${LOCAL_INGEST_COMMAND}
     then, under "Start a broadcast", name "local", stream URL rtmp://127.0.0.1:1935/live, stream
     key "test" ("No platform account?" fills these in), press "Start broadcast". Its card turns
     "live" with a preview; "Stop" ends it, and ffmpeg leaves out.flv (ffplay out.flv).
  From a terminal: node dist/cli.js calls, node dist/cli.js broadcast list --call default:<id>
  (node dist/cli.js --help for all of it).
`;
}
