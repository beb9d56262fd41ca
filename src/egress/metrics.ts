/** Prometheus text exposition of the egress (mounted at GET /metrics by the HTTP server). */
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
  { name: 'callcast_broadcast_video_frames_sent_total', help: 'Video frames sent to the destination.', type: 'counter', value: (s) => s.videoFramesSent },
  { name: 'callcast_broadcast_audio_frames_sent_total', help: 'Audio frames sent to the destination.', type: 'counter', value: (s) => s.audioFramesSent },
  { name: 'callcast_broadcast_bitrate_bits_per_second', help: 'Bitrate to the destination over the last seconds.', type: 'gauge', value: (s) => s.bitrate },
  { name: 'callcast_broadcast_reconnects_total', help: 'Times the destination lost its session and reconnected.', type: 'counter', value: (s) => s.reconnects },
  { name: 'callcast_broadcast_up', help: '1 while the destination is live, else 0.', type: 'gauge', value: (s) => (s.state === 'live' ? 1 : 0) },
];

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
  lines.push(
    '# HELP callcast_encoder_processes Running encoder (ffmpeg) processes.',
    '# TYPE callcast_encoder_processes gauge',
    `callcast_encoder_processes ${engine.encoderCount()}`,
    '# HELP callcast_broadcast_groups Broadcast groups (one encode each).',
    '# TYPE callcast_broadcast_groups gauge',
    `callcast_broadcast_groups ${engine.groupCount()}`,
  );
  return lines.join('\n') + '\n';
}
