/**
 * CSS colour parsing for layout options. Returns straight (non-premultiplied) RGBA with channels 0..255.
 * Supported: #rgb, #rgba, #rrggbb, #rrggbbaa, rgb()/rgba() (comma or space syntax, numbers or %),
 * hsl()/hsla(), `transparent` and the CSS named colours.
 */
/** An opaque colour, channels 0..255. */
export interface Rgb {
  r: number;
  g: number;
  b: number;
}

/** A colour with straight alpha, channels 0..255. */
export interface Rgba extends Rgb {
  a: number;
}

const NAMED_HEX = `aliceblue f0f8ff antiquewhite faebd7 aqua 00ffff aquamarine 7fffd4 azure f0ffff beige f5f5dc bisque ffe4c4
black 000000 blanchedalmond ffebcd blue 0000ff blueviolet 8a2be2 brown a52a2a burlywood deb887 cadetblue 5f9ea0
chartreuse 7fff00 chocolate d2691e coral ff7f50 cornflowerblue 6495ed cornsilk fff8dc crimson dc143c cyan 00ffff
darkblue 00008b darkcyan 008b8b darkgoldenrod b8860b darkgray a9a9a9 darkgreen 006400 darkgrey a9a9a9 darkkhaki bdb76b
darkmagenta 8b008b darkolivegreen 556b2f darkorange ff8c00 darkorchid 9932cc darkred 8b0000 darksalmon e9967a
darkseagreen 8fbc8f darkslateblue 483d8b darkslategray 2f4f4f darkslategrey 2f4f4f darkturquoise 00ced1
darkviolet 9400d3 deeppink ff1493 deepskyblue 00bfff dimgray 696969 dimgrey 696969 dodgerblue 1e90ff
firebrick b22222 floralwhite fffaf0 forestgreen 228b22 fuchsia ff00ff gainsboro dcdcdc ghostwhite f8f8ff gold ffd700
goldenrod daa520 gray 808080 green 008000 greenyellow adff2f grey 808080 honeydew f0fff0 hotpink ff69b4
indianred cd5c5c indigo 4b0082 ivory fffff0 khaki f0e68c lavender e6e6fa lavenderblush fff0f5 lawngreen 7cfc00
lemonchiffon fffacd lightblue add8e6 lightcoral f08080 lightcyan e0ffff lightgoldenrodyellow fafad2 lightgray d3d3d3
lightgreen 90ee90 lightgrey d3d3d3 lightpink ffb6c1 lightsalmon ffa07a lightseagreen 20b2aa lightskyblue 87cefa
lightslategray 778899 lightslategrey 778899 lightsteelblue b0c4de lightyellow ffffe0 lime 00ff00 limegreen 32cd32
linen faf0e6 magenta ff00ff maroon 800000 mediumaquamarine 66cdaa mediumblue 0000cd mediumorchid ba55d3
mediumpurple 9370db mediumseagreen 3cb371 mediumslateblue 7b68ee mediumspringgreen 00fa9a mediumturquoise 48d1cc
mediumvioletred c71585 midnightblue 191970 mintcream f5fffa mistyrose ffe4e1 moccasin ffe4b5 navajowhite ffdead
navy 000080 oldlace fdf5e6 olive 808000 olivedrab 6b8e23 orange ffa500 orangered ff4500 orchid da70d6
palegoldenrod eee8aa palegreen 98fb98 paleturquoise afeeee palevioletred db7093 papayawhip ffefd5 peachpuff ffdab9
peru cd853f pink ffc0cb plum dda0dd powderblue b0e0e6 purple 800080 rebeccapurple 663399 red ff0000
rosybrown bc8f8f royalblue 4169e1 saddlebrown 8b4513 salmon fa8072 sandybrown f4a460 seagreen 2e8b57
seashell fff5ee sienna a0522d silver c0c0c0 skyblue 87ceeb slateblue 6a5acd slategray 708090 slategrey 708090
snow fffafa springgreen 00ff7f steelblue 4682b4 tan d2b48c teal 008080 thistle d8bfd8 tomato ff6347
turquoise 40e0d0 violet ee82ee wheat f5deb3 white ffffff whitesmoke f5f5f5 yellow ffff00 yellowgreen 9acd32`;

const NAMED = new Map<string, string>();
{
  const parts = NAMED_HEX.split(/\s+/).filter(Boolean);
  for (let i = 0; i + 1 < parts.length; i += 2) NAMED.set(parts[i]!, parts[i + 1]!);
}

const clamp255 = (v: number): number => Math.max(0, Math.min(255, Math.round(v)));

function parseHex(hex: string): Rgba | undefined {
  if (!/^[0-9a-f]+$/i.test(hex)) return undefined;
  const n = hex.length;
  if (n === 3 || n === 4) {
    const d = [...hex].map((c) => parseInt(c + c, 16));
    return { r: d[0]!, g: d[1]!, b: d[2]!, a: n === 4 ? d[3]! : 255 };
  }
  if (n === 6 || n === 8) {
    const d: number[] = [];
    for (let i = 0; i < n; i += 2) d.push(parseInt(hex.slice(i, i + 2), 16));
    return { r: d[0]!, g: d[1]!, b: d[2]!, a: n === 8 ? d[3]! : 255 };
  }
  return undefined;
}

/** Parses one numeric CSS component: `12`, `12.5`, `50%` (percent of `percentOf`). */
function component(text: string, percentOf: number): number | undefined {
  const m = /^([+-]?(?:\d+\.?\d*|\.\d+))(%?)$/.exec(text);
  if (!m) return undefined;
  const v = Number(m[1]);
  return m[2] === '%' ? (v / 100) * percentOf : v;
}

function functionArgs(body: string): string[] | undefined {
  // Either "a, b, c[, d]" or "a b c[ / d]".
  const trimmed = body.trim();
  if (trimmed.includes(',')) return trimmed.split(',').map((s) => s.trim());
  const [main, alpha] = trimmed.split('/').map((s) => s.trim());
  if (main === undefined) return undefined;
  const parts = main.split(/\s+/).filter(Boolean);
  if (alpha !== undefined) parts.push(alpha);
  return parts;
}

function hslToRgb(h: number, s: number, l: number): [number, number, number] {
  const hue = ((h % 360) + 360) % 360;
  const c = (1 - Math.abs(2 * l - 1)) * s;
  const x = c * (1 - Math.abs(((hue / 60) % 2) - 1));
  const m = l - c / 2;
  const [r, g, b] =
    hue < 60 ? [c, x, 0] : hue < 120 ? [x, c, 0] : hue < 180 ? [0, c, x] : hue < 240 ? [0, x, c] : hue < 300 ? [x, 0, c] : [c, 0, x];
  return [(r + m) * 255, (g + m) * 255, (b + m) * 255];
}

/** Parses a CSS colour; returns undefined when it is not one this renderer can draw. */
export function parseColor(input: unknown): Rgba | undefined {
  if (typeof input !== 'string') return undefined;
  const text = input.trim().toLowerCase();
  if (text === '') return undefined;
  if (text === 'transparent') return { r: 0, g: 0, b: 0, a: 0 };
  if (text.startsWith('#')) return parseHex(text.slice(1));
  const named = NAMED.get(text);
  if (named) return parseHex(named);
  const fn = /^(rgba?|hsla?)\((.*)\)$/.exec(text);
  if (!fn) return undefined;
  const args = functionArgs(fn[2]!);
  if (!args || (args.length !== 3 && args.length !== 4)) return undefined;
  const alpha = args.length === 4 ? component(args[3]!, 1) : 1;
  if (alpha === undefined) return undefined;
  if (fn[1]!.startsWith('rgb')) {
    const rgb = args.slice(0, 3).map((a) => component(a, 255));
    if (rgb.some((v) => v === undefined)) return undefined;
    return { r: clamp255(rgb[0]!), g: clamp255(rgb[1]!), b: clamp255(rgb[2]!), a: clamp255(alpha * 255) };
  }
  const h = component(args[0]!.replace(/deg$/, ''), 360);
  const s = component(args[1]!, 1);
  const l = component(args[2]!, 1);
  if (h === undefined || s === undefined || l === undefined || !args[1]!.endsWith('%') || !args[2]!.endsWith('%')) {
    return undefined;
  }
  const [r, g, b] = hslToRgb(h, Math.max(0, Math.min(1, s)), Math.max(0, Math.min(1, l)));
  return { r: clamp255(r), g: clamp255(g), b: clamp255(b), a: clamp255(alpha * 255) };
}

/** Serialises RGBA as a CSS string any 2D canvas accepts. */
export function rgbaCss(c: Rgba): string {
  return `rgba(${c.r}, ${c.g}, ${c.b}, ${Math.round((c.a / 255) * 1000) / 1000})`;
}
