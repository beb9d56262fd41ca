/** Prometheus text exposition of the egress (mounted at GET /metrics by the HTTP server). */
import { createHash } from 'node:crypto';
import type { BroadcastGroupHealth } from './broadcast-group.js';
import type { EgressEngine } from './engine.js';

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

interface Metric {
  name: string;
  help: string;
  type: 'gauge' | 'counter';
}

const DEST_METRICS: Array<Metric & { value: (s: ReturnType<EgressEngine['allStats']>[number]) => number }> = [
  { name: 'callcast_broadcast_bytes_sent_total', help: 'Bytes sent to the destination.', type: 'counter', value: (s) => s.bytesSent },
  {
    name: 'callcast_broadcast_video_frames_sent_total',
    help: 'Video frames sent to the destination.',
    type: 'counter',
    value: (s) => s.videoFramesSent,
  },
  {
    name: 'callcast_broadcast_audio_frames_sent_total',
    help: 'Audio frames sent to the destination.',
    type: 'counter',
    value: (s) => s.audioFramesSent,
  },
  {
    name: 'callcast_broadcast_bitrate_bits_per_second',
    help: 'Bitrate to the destination over the last seconds.',
    type: 'gauge',
    value: (s) => s.bitrate,
  },
  {
    name: 'callcast_broadcast_reconnects_total',
    help: 'Times the destination lost its session and reconnected.',
    type: 'counter',
    value: (s) => s.reconnects,
  },
  {
    name: 'callcast_broadcast_up',
    help: '1 while the destination is live, else 0.',
    type: 'gauge',
    value: (s) => (s.state === 'live' ? 1 : 0),
  },
];

type GroupStats = BroadcastGroupHealth & { key: string };

const GROUP_METRICS: Array<Metric & { value: (g: GroupStats) => number | null }> = [
  { name: 'callcast_group_ticks_total', help: 'Clock ticks (frames) the group produced.', type: 'counter', value: (g) => g.ticks },
  {
    name: 'callcast_group_skipped_ticks_total',
    help: 'Clock ticks skipped because the process ran late.',
    type: 'counter',
    value: (g) => g.skippedTicks,
  },
  {
    name: 'callcast_group_dropped_frames_total',
    help: 'Frames dropped because the encoder did not keep up.',
    type: 'counter',
    value: (g) => g.droppedFrames,
  },
  {
    name: 'callcast_group_realtime_ratio',
    help: 'Output media time per wall time over the last window (1 = real time).',
    type: 'gauge',
    value: (g) => g.realtimeRatio,
  },
  {
    name: 'callcast_group_degraded',
    help: '1 while the group is behind real time, else 0.',
    type: 'gauge',
    value: (g) => (g.degraded ? 1 : 0),
  },
  {
    name: 'callcast_group_encoder_restarts_total',
    help: 'Encoder processes restarted after a crash.',
    type: 'counter',
    value: (g) => g.encoderRestarts,
  },
  { name: 'callcast_group_destinations', help: 'Destinations fed by the group.', type: 'gauge', value: (g) => g.destinations },
];

/** A short stable id of a group (its key holds the whole layout). */
function groupId(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 12);
}

export function renderMetrics(engine: EgressEngine): string {
  const lines: string[] = [];
  const stats = engine.allStats();
  for (const m of DEST_METRICS) {
    lines.push(`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} ${m.type}`);
    for (const s of stats) {
      const labels = `call_cid="${escapeLabel(s.callCid)}",name="${escapeLabel(s.name)}",quality="${escapeLabel(s.quality)}"`;
      lines.push(`${m.name}{${labels}} ${m.value(s)}`);
    }
  }
  const groups = engine.groupStats();
  for (const m of GROUP_METRICS) {
    lines.push(`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} ${m.type}`);
    for (const g of groups) {
      const value = m.value(g);
      if (value === null) continue;
      const labels = `call_cid="${escapeLabel(g.callCid)}",quality="${escapeLabel(g.quality)}",layout="${escapeLabel(g.layout)}",group="${groupId(g.key)}"`;
      lines.push(`${m.name}{${labels}} ${Math.round(value * 1000) / 1000}`);
    }
  }
  lines.push(
    '# HELP callcast_broadcast_groups_degraded Broadcast groups behind real time.',
    '# TYPE callcast_broadcast_groups_degraded gauge',
    `callcast_broadcast_groups_degraded ${engine.degradedGroupCount()}`,
    '# HELP callcast_encoder_processes Running encoder (ffmpeg) processes.',
    '# TYPE callcast_encoder_processes gauge',
    `callcast_encoder_processes ${engine.encoderCount()}`,
    '# HELP callcast_broadcast_groups Broadcast groups (one encode each).',
    '# TYPE callcast_broadcast_groups gauge',
    `callcast_broadcast_groups ${engine.groupCount()}`,
  );
  return `${lines.join('\n')}\n`;
}
