/**
 * CSS length parsing for layout options: numbers (px), "12px", "0", ".875rem" (16 px per rem)
 * and "20%" (of the dimension the option refers to). Negative lengths are refused.
 */
export type Length = { unit: 'px'; value: number } | { unit: '%'; value: number };

const REM_PX = 16;

export function parseLength(input: unknown): Length | undefined {
  if (typeof input === 'number') return Number.isFinite(input) && input >= 0 ? { unit: 'px', value: input } : undefined;
  if (typeof input !== 'string') return undefined;
  const m = /^\s*(\d+\.?\d*|\.\d+)\s*(px|rem|em|%)?\s*$/i.exec(input);
  if (!m) return undefined;
  const value = Number(m[1]);
  const unit = (m[2] ?? 'px').toLowerCase();
  if (!Number.isFinite(value)) return undefined;
  if (unit === '%') return { unit: '%', value };
  if (unit === 'rem' || unit === 'em') return { unit: 'px', value: value * REM_PX };
  return { unit: 'px', value };
}

/** Resolves a length to pixels; percentages are of `relativeTo`. */
export function toPx(length: Length, relativeTo: number): number {
  return length.unit === '%' ? (length.value / 100) * relativeTo : length.value;
}
