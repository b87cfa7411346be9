/**
 * The chart `deno task circuits` writes: node scores on the layer x head grid (layers and heads
 * read from names like "L9H6"), readable on its own: a title and subtitle, labelled axes, a colour
 * scale with its values, the score in each cell when it fits, the top heads outlined, ranked and
 * listed by name, and the discovery's warnings.
 * @module
 */

/** What {@link scoreGridSvg} draws besides the grid. */
export interface ScoreGridOptions {
  /** The chart's title (default "Circuit discovery: node score per head"). */
  readonly title?: string;
  /** A line under the title, e.g. the data's shape and the ROC AUC. */
  readonly subtitle?: string;
  /** How many best heads to outline and list (default 5). */
  readonly top?: number;
  /** Positive-only codes per head (by head index), listed beside the top heads. */
  readonly codes?: readonly number[];
  /** Warnings shown under the grid, one or more lines each. */
  readonly warnings?: readonly string[];
}

const MARGIN = { left: 70, top: 96, right: 24 };
const SCALE_WIDTH = 96;
const PANEL_WIDTH = 250;
const MIN_WIDTH = 640;

interface Cell {
  readonly index: number;
  readonly layer: number;
  readonly head: number;
  readonly name: string;
  readonly score: number;
}

/** Layer and head of each name ("LxHy"; otherwise layer 0, head = its index). */
function cellsOf(scores: readonly number[], names: readonly string[]): Cell[] {
  return names.map((name, index) => {
    const m = /L(\d+)H(\d+)/.exec(name);
    return {
      index,
      layer: m ? Number(m[1]) : 0,
      head: m ? Number(m[2]) : index,
      name,
      score: scores[index],
    };
  });
}

/** White (0) to dark red (the largest score). */
function colour(t: number): string {
  const v = Math.max(0, Math.min(1, t));
  const g = Math.round(255 * (1 - v));
  const r = Math.round(255 - 90 * Math.max(0, v - 0.6) / 0.4);
  return `rgb(${r},${g},${g})`;
}

/** A score in 3 significant digits, in exponent form below 0.01. */
function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v !== 0 && Math.abs(v) < 0.01) return v.toExponential(1);
  return String(Number(v.toPrecision(3)));
}

function xml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

function text(x: number, y: number, s: string, attrs = ""): string {
  return `<text x="${x}" y="${y}"${attrs ? " " + attrs : ""}>${xml(s)}</text>`;
}

/**
 * A standalone SVG of `scores` (one per head, by index) on the layer x head grid of `names`:
 * rows are layers, columns heads within a layer, colour from 0 to the largest score.
 */
export function scoreGridSvg(
  scores: readonly number[],
  names: readonly string[],
  options: ScoreGridOptions = {},
): string {
  const cells = cellsOf(scores, names);
  const layers = Math.max(...cells.map((c) => c.layer)) + 1;
  const heads = Math.max(...cells.map((c) => c.head)) + 1;
  const size = Math.max(14, Math.min(48, Math.floor(560 / Math.max(heads, layers))));
  const max = Math.max(...scores.filter(Number.isFinite), 1e-12);
  const gridW = heads * size;
  const gridH = layers * size;
  const x0 = MARGIN.left;
  const y0 = MARGIN.top;
  const ranked = [...cells].sort((a, b) => b.score - a.score || a.index - b.index)
    .slice(0, Math.min(options.top ?? 5, cells.length));
  const rankOf = new Map(ranked.map((c, i) => [c.index, i + 1]));
  const scaleX = x0 + gridW + 24;
  const panelX = scaleX + SCALE_WIDTH;
  const bodyH = Math.max(gridH, 190, 40 + ranked.length * 18);
  const width = Math.max(MIN_WIDTH, panelX + PANEL_WIDTH + MARGIN.right);
  const chars = Math.floor((width - 32) / 6.5);
  const note = wrap(
    "node score: softmax over heads of the number of codes seen on task examples and never on " +
      "corrupted ones; outlined and numbered: the top heads",
    chars,
  );
  const warningLines = (options.warnings ?? []).flatMap((w) => wrap(`warning: ${w}`, chars));
  const height = y0 + bodyH + 24 + (note.length + warningLines.length) * 16 + 12;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
    `viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#fff"/>`,
    text(16, 24, options.title ?? "Circuit discovery: node score per head", 'font-size="16"'),
  ];
  if (options.subtitle) parts.push(text(16, 44, options.subtitle, 'fill="#444"'));
  // Axes: heads along the top, layers down the left.
  parts.push(text(x0 + gridW / 2, y0 - 24, "head", 'text-anchor="middle" font-weight="bold"'));
  const midY = y0 + gridH / 2;
  parts.push(
    `<text x="16" y="${midY}" text-anchor="middle" font-weight="bold" ` +
      `transform="rotate(-90 16 ${midY})">layer</text>`,
  );
  const every = Math.ceil(24 / size);
  for (let h = 0; h < heads; h += every) {
    parts.push(text(x0 + h * size + size / 2, y0 - 6, `H${h}`, 'text-anchor="middle"'));
  }
  for (let l = 0; l < layers; l += every) {
    parts.push(text(x0 - 6, y0 + l * size + size / 2 + 4, `L${l}`, 'text-anchor="end"'));
  }
  for (const c of cells) {
    const x = x0 + c.head * size;
    const y = y0 + c.layer * size;
    const rank = rankOf.get(c.index);
    const stroke = rank ? ' stroke="#000" stroke-width="2"' : ' stroke="#ddd"';
    parts.push(
      `<rect class="cell" x="${x + 1}" y="${y + 1}" width="${size - 2}" height="${size - 2}" ` +
        `fill="${colour(c.score / max)}"${stroke}><title>${xml(c.name)}: ${
          c.score.toFixed(4)
        }</title></rect>`,
    );
    const ink = c.score / max > 0.55 ? "#fff" : "#000";
    if (size >= 40) {
      parts.push(
        text(
          x + size / 2,
          y + size / 2 + 12,
          fmt(c.score),
          `text-anchor="middle" font-size="9" fill="${ink}"`,
        ),
      );
    }
    if (rank && size >= 20) {
      parts.push(
        text(
          x + size / 2,
          y + size / 2 + (size >= 40 ? -2 : 4),
          `#${rank}`,
          `text-anchor="middle" font-size="11" font-weight="bold" fill="${ink}"`,
        ),
      );
    }
  }
  parts.push(...colourScale(scaleX, y0, Math.min(bodyH, 220), max));
  parts.push(...topPanel(panelX, y0, ranked, options.codes));
  const noteY = y0 + bodyH + 24;
  note.forEach((line, i) => parts.push(text(16, noteY + i * 16, line, 'fill="#444"')));
  warningLines.forEach((line, i) =>
    parts.push(text(16, noteY + (note.length + i) * 16, line, 'fill="#b00"'))
  );
  return parts.join("\n") + "\n</svg>\n";
}

/** A vertical gradient from the largest score (top) to 0, with 5 labelled ticks. */
function colourScale(x: number, y: number, h: number, max: number): string[] {
  const stops = Array.from({ length: 11 }, (_, i) => {
    const t = 1 - i / 10;
    return `<stop offset="${i * 10}%" stop-color="${colour(t)}"/>`;
  });
  const out = [
    `<defs><linearGradient id="score-scale" x1="0" y1="0" x2="0" y2="1">${
      stops.join("")
    }</linearGradient></defs>`,
    text(x, y - 6, "node score", 'font-weight="bold"'),
    `<rect class="scale" x="${x}" y="${y}" width="16" height="${h}" fill="url(#score-scale)" ` +
    `stroke="#999"/>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const ty = y + (h * i) / 4;
    out.push(`<line x1="${x + 16}" y1="${ty}" x2="${x + 21}" y2="${ty}" stroke="#333"/>`);
    out.push(text(x + 24, ty + 4, fmt(max * (1 - i / 4)), 'class="scale-value"'));
  }
  return out;
}

/** The top heads by name: rank, name, node score and (when known) positive-only codes. */
function topPanel(
  x: number,
  y: number,
  ranked: readonly Cell[],
  codes?: readonly number[],
): string[] {
  const out = [text(x, y - 6, `top ${ranked.length} heads`, 'font-weight="bold"')];
  ranked.forEach((c, i) => {
    const extra = codes ? `, ${codes[c.index]} codes` : "";
    out.push(
      text(x, y + 14 + i * 18, `#${i + 1} ${c.name}: ${fmt(c.score)}${extra}`, 'class="top-head"'),
    );
  });
  return out;
}
