/** The FLV tag as the egress handles it: the demuxer's tag (src/rtmp/flv.ts), passed through as is. */
export type { FlvTag } from '../rtmp/flv.js';
