/**
 * The pure parts of the limits: admission of a new broadcast group over measured figures, the
 * service's CPU share from samples and /proc, the configuration of the limits, and the participant
 * limit of a call for a publisher; the CPU sampler against a real busy child process.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { participantLimitOf } from '../../src/calls/access.js';
import { ConfigError, DEFAULT_LIMITS, loadConfig } from '../../src/config.js';
import { admitNewGroup, GroupRefusedError, OPEN_ADMISSION, type AdmissionFigures } from '../../src/egress/admission.js';
import { cpuShareOf, procStatCpuMs, ServiceLoad } from '../../src/egress/load.js';
import { sleep } from '../support/wait.js';

const policy = { refuseWhileDegraded: true, maxCpuShare: 0.9, maxGroupsPerUser: 2 };
const group = (degraded: boolean, realtimeRatio: number | null = degraded ? 0.7 : 1) => ({
  callCid: 'default:c',
  quality: '720p',
  degraded,
  realtimeRatio,
});
const figures = (over: Partial<AdmissionFigures> = {}): AdmissionFigures => ({
  groups: [group(false)],
  cpuShare: 0.4,
  requester: 'ada',
  requesterGroups: 0,
  ...over,
});

describe('admitNewGroup', () => {
  it('admits when nothing is behind, the CPU is under the limit and the user under their bound', () => {
    assert.deepEqual(admitNewGroup(figures(), policy), { admit: true });
    assert.deepEqual(admitNewGroup(figures({ groups: [], cpuShare: null }), policy), { admit: true }, 'nothing measured yet');
    assert.deepEqual(admitNewGroup(figures({ cpuShare: 0.9 }), policy), { admit: true }, 'at the limit, not over');
  });
  it('refuses while any group is degraded, naming it', () => {
    const d = admitNewGroup(figures({ groups: [group(false), group(true, 0.71)] }), policy);
    assert.equal(d.admit, false);
    assert.equal(!d.admit && d.reason, 'degraded');
    assert.match(!d.admit ? d.detail : '', /1 running broadcast encode is behind real time \(default:c 720p at 0\.71x real time\)/);
    assert.deepEqual(admitNewGroup(figures({ groups: [group(true)] }), { ...policy, refuseWhileDegraded: false }), { admit: true });
  });
  it('refuses above the CPU threshold, unless it is off', () => {
    const d = admitNewGroup(figures({ cpuShare: 0.95 }), policy);
    assert.equal(!d.admit && d.reason, 'cpu');
    assert.match(!d.admit ? d.detail : '', /uses 95% of its CPU \(the admission limit is 90%\)/);
    assert.deepEqual(admitNewGroup(figures({ cpuShare: 0.99 }), { ...policy, maxCpuShare: null }), { admit: true });
  });
  it("bounds a user's groups first; the server side is not bound", () => {
    const d = admitNewGroup(figures({ requesterGroups: 2, groups: [group(true)] }), policy);
    assert.equal(!d.admit && d.reason, 'user_groups', 'the quota is named before the load');
    assert.match(!d.admit ? d.detail : '', /user "ada" already runs 2 broadcast encodes \(the limit is 2\)/);
    assert.deepEqual(admitNewGroup(figures({ requesterGroups: 1 }), policy), { admit: true });
    assert.deepEqual(admitNewGroup(figures({ requester: null, requesterGroups: 0 }), { ...policy, maxGroupsPerUser: 0 }), {
      admit: true,
    });
  });
  it('admits everything with the open policy', () => {
    assert.deepEqual(admitNewGroup(figures({ groups: [group(true)], cpuShare: 1, requesterGroups: 99 }), OPEN_ADMISSION), {
      admit: true,
    });
  });
  it('answers refusals as Stream errors: 429/9 for a quota, 503/-1 with Retry-After for load', () => {
    const quota = new GroupRefusedError('user_groups', 'x');
    assert.deepEqual([quota.status, quota.code, quota.retryAfterSeconds], [429, 9, undefined]);
    const load = new GroupRefusedError('degraded', 'y');
    assert.deepEqual([load.status, load.code, load.retryAfterSeconds], [503, -1, 10]);
  });
});

describe('CPU share', () => {
  it('is the CPU time of the samples over the wall time of the window and the cores', () => {
    assert.equal(cpuShareOf([], 0, 2), null);
    assert.equal(
      cpuShareOf(
        [
          { atMs: 2000, cpuMs: 1000 },
          { atMs: 4000, cpuMs: 3000 },
        ],
        0,
        2,
      ),
      0.5,
    );
    assert.equal(cpuShareOf([{ atMs: 1000, cpuMs: 2000 }], 0, 2), 1);
  });
  it('reads utime and stime from /proc/<pid>/stat, names with spaces and parentheses included', () => {
    const stat = '4242 (ff (mpeg) x) S 1 4242 4242 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 3 0 100 0 0';
    assert.equal(procStatCpuMs(stat), 3000);
    assert.equal(procStatCpuMs('garbage'), null);
  });
  it("measures the service's own CPU and its children's", async (t) => {
    const load = new ServiceLoad({ intervalMs: 300, windowMs: 3000 }).start();
    assert.equal(load.cpuShare(), null, 'nothing measured yet');
    const busy = spawn(process.execPath, ['-e', 'const end = Date.now() + 4000; while (Date.now() < end) {}'], { stdio: 'ignore' });
    try {
      await sleep(2000);
      const share = load.cpuShare();
      t.diagnostic(`CPU share with a busy child: ${share}`);
      assert.ok(share !== null && share > 0);
    } finally {
      busy.kill('SIGKILL');
      load.close();
    }
  });
});

describe('configuration of the limits', () => {
  it('has documented defaults and reads each variable', () => {
    const c = loadConfig({});
    assert.equal(c.maxBroadcastsPerCall, undefined);
    assert.deepEqual(DEFAULT_LIMITS, { maxBroadcastsPerCall: 10, maxGroupsPerUser: 3, admissionCpuPercent: 90, admissionDegraded: true });
    const set = loadConfig({
      CALLCAST_MAX_BROADCASTS_PER_CALL: '4',
      CALLCAST_MAX_GROUPS_PER_USER: '1',
      CALLCAST_ADMISSION_CPU_PERCENT: '75',
      CALLCAST_ADMISSION_DEGRADED: '0',
    });
    assert.deepEqual([set.maxBroadcastsPerCall, set.maxGroupsPerUser, set.admissionCpuPercent, set.admissionDegraded], [4, 1, 75, false]);
    assert.equal(loadConfig({ CALLCAST_ADMISSION_CPU_PERCENT: 'off' }).admissionCpuPercent, 0);
  });
  it('refuses values out of range', () => {
    assert.throws(() => loadConfig({ CALLCAST_MAX_BROADCASTS_PER_CALL: '0' }), ConfigError);
    assert.throws(() => loadConfig({ CALLCAST_MAX_GROUPS_PER_USER: 'two' }), /CALLCAST_MAX_GROUPS_PER_USER must be a whole number/);
    assert.throws(() => loadConfig({ CALLCAST_ADMISSION_CPU_PERCENT: '150' }), /from 0 to 100/);
    assert.throws(() => loadConfig({ CALLCAST_ADMISSION_DEGRADED: 'maybe' }), /CALLCAST_ADMISSION_DEGRADED/);
  });
});

describe('participantLimitOf', () => {
  const call = { created_by_id: 'owner' };
  it('is the call setting, absent when it is not a positive whole number', () => {
    assert.deepEqual(participantLimitOf({ limits: { max_participants: 3 } }, call, 'ada', ['user']), { max: 3, exempt: false });
    for (const max of [undefined, 0, -1, 2.5, '3']) {
      assert.deepEqual(participantLimitOf({ limits: { max_participants: max as never } }, call, 'ada', ['user']), { exempt: false });
    }
  });
  it('leaves out the owner with exclude_owner, and excluded roles', () => {
    const settings = { limits: { max_participants: 1, max_participants_exclude_owner: true, max_participants_exclude_roles: ['host'] } };
    assert.deepEqual(participantLimitOf(settings, call, 'owner', ['user']), { max: 1, exempt: true });
    assert.deepEqual(participantLimitOf(settings, call, 'ada', ['user', 'host']), { max: 1, exempt: true });
    assert.deepEqual(participantLimitOf(settings, call, 'ada', ['user']), { max: 1, exempt: false });
  });
});
