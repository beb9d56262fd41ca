export { RecordingLogger } from '../support/log.js';
