/** Settings the HLS and recording tests share. */
import type { StreamClient } from '@stream-io/node-sdk';

/** Layout options without labels over a dark background (so tile colours are plain to read). */
export const NO_LABELS = { 'participant_label.display': false, 'layout.background_color': '#202020' };

/** The default call type with HLS (360p spotlight) and recordings (360p grid) enabled. */
export async function enableOutputs(client: StreamClient): Promise<void> {
  await client.video.updateCallType({
    name: 'default',
    settings: {
      broadcasting: {
        enabled: true,
        hls: { enabled: true, quality_tracks: ['360p'], layout: { name: 'spotlight', options: NO_LABELS } },
      },
      recording: { mode: 'available', audio_only: false, quality: '360p', layout: { name: 'grid', options: NO_LABELS } },
    },
  });
}
