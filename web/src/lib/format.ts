/** Pure formatting of numbers and times for the pages. */

/** "1.2 Mbit/s", "850 kbit/s", "0 bit/s". */
export function formatBitrate(bitsPerSecond: number): string {
  if (!Number.isFinite(bitsPerSecond) || bitsPerSecond <= 0) return '0 bit/s';
  if (bitsPerSecond >= 1_000_000) return `${(bitsPerSecond / 1_000_000).toFixed(1)} Mbit/s`;
  if (bitsPerSecond >= 1_000) return `${Math.round(bitsPerSecond / 1_000)} kbit/s`;
  return `${Math.round(bitsPerSecond)} bit/s`;
}

/** "12.3 MB", "456 kB", "78 B" (decimal units). */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes <= 0) return '0 B';
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(2)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  if (bytes >= 1e3) return `${(bytes / 1e3).toFixed(0)} kB`;
  return `${Math.round(bytes)} B`;
}

/** Elapsed time since `sinceIso` at `nowMs` as "h:mm:ss" / "m:ss"; "" when unknown. */
export function formatUptime(sinceIso: string | null | undefined, nowMs: number): string {
  if (!sinceIso) return '';
  const since = Date.parse(sinceIso);
  if (Number.isNaN(since)) return '';
  const total = Math.max(0, Math.floor((nowMs - since) / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** Initials for a placeholder avatar: "Ada Lovelace" -> "AL". */
export function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  if (parts.length === 0) return '?';
  const first = parts[0]!.charAt(0);
  const last = parts.length > 1 ? parts[parts.length - 1]!.charAt(0) : '';
  return (first + last).toUpperCase();
}

/** A user id derived from a display name: lowercase letters, digits and dashes, with a suffix. */
export function userIdFromName(name: string, suffix: string): string {
  const slug = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40);
  return `${slug || 'guest'}-${suffix}`;
}

/** A share of a machine (0..1) as "37%"; "not measured yet" when null. */
export function formatShare(share: number | null): string {
  if (share === null || !Number.isFinite(share)) return 'not measured yet';
  return `${Math.round(share * 100)}%`;
}

/** A cluster node's state for the console: draining, full (with why), or taking calls. */
export function nodeState(node: { draining: boolean; full: string | null }): string {
  if (node.draining) return 'draining: handing its calls over';
  if (node.full) return `full: ${node.full}`;
  return 'taking calls';
}
