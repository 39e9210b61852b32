// The site's data and its two searches (layouts: tracker/site/files.py and codes.py).
// Semantic: every paper's sign code is scored against the float query (one table lookup per byte),
// the best CANDIDATES are re-scored exactly with their int8 rows. A paper's row and display record
// form one entry of entries.bin, stored in search order (near vectors near each other), so the
// candidates' entries come in runs of neighbours, one HTTP Range request each, and the results'
// records with them. A browser pays several milliseconds per request where a few more kilobytes
// cost next to nothing, so a search fetches only the REQUESTS runs holding the best candidates:
// a candidate far from the others is rarely one of the best ten (benchmarks/site.py).
// Lexical: title words weighted by rarity, for when there is no model.

// Chosen on 100 real queries at 2,611, 10,000 and 100,000 papers, checked on 100 others
// (benchmarks/site.py measures the page): 128 candidates in at most 6 runs overlap the exact top
// 10 by 0.95-0.98 (0.95-0.96 on the others); 64 candidates in every run they need, 0.92-0.99 in
// 7-18 requests. With a filter passing 5-20% of the papers, 6 runs overlap by only 0.68-0.95:
// filtered searches fetch FILTERED_CANDIDATES in every run they need (0.97-1.0, 20-41 requests).
export const CANDIDATES = 128;
const REQUESTS = 6;
const FILTERED_CANDIDATES = 64;
const GAP = 16384; // entries this few bytes apart share one Range request (a few entries fetched for nothing)
const RANK_WEIGHT = 8; // a run weighs the sum of 1 / (RANK_WEIGHT + its candidates' code ranks)

async function getJSON(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

async function getBytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

const once = (make) => { let p = null; return () => (p ??= make()); };
const decoder = new TextDecoder();

export class SiteIndex {
  constructor(meta) {
    this.meta = meta;
    this.count = meta.count;
    this.dim = meta.dim;
    this.codeBytes = meta.dim / 8;
    this.codes = once(() => getBytes('data/codes.bin'));
    this.dates = once(async () => new Uint16Array((await getBytes('data/dates.bin')).buffer));
    this.titles = once(() => getJSON('data/titles.json'));
    this.ids = once(() => getJSON('data/ids.json'));
    this.spans = once(async () => new Uint32Array((await getBytes('data/spans.bin')).buffer));
    this.entryCache = new Map(); // position -> {row: Int8Array(dim), record}
    this.lists = new Map(); // 'topic-3' -> Promise of positions
    this.lexicon = null;
  }

  static async open() {
    return new SiteIndex(await getJSON('data/meta.json'));
  }

  list(name) {
    if (!this.lists.has(name)) this.lists.set(name, getJSON(`data/${name}.json`));
    return this.lists.get(name);
  }

  // Display records for positions, in the given order.
  async records(positions) {
    const entries = await this.entries(positions);
    return positions.map((p) => ({ position: p, ...entries.get(p).record }));
  }

  // Uint8Array mask of the papers passing the filters, or null when no filter is set.
  async mask({ topic = '', profile = '', since = '', until = '' } = {}) {
    if (topic === '' && profile === '' && !since && !until) return null;
    const mask = new Uint8Array(this.count).fill(1);
    const keepOnly = (positions) => {
      const inList = new Uint8Array(this.count);
      for (const p of positions) inList[p] = 1;
      for (let i = 0; i < this.count; i++) mask[i] &= inList[i];
    };
    if (topic !== '') keepOnly(await this.list(`topic-${Number(topic)}`));
    if (profile !== '') keepOnly(await this.list(`profile-${Number(profile)}`));
    if (since || until) {
      const dates = await this.dates();
      const lo = since ? dayNumber(since) : 0;
      const hi = until ? dayNumber(until) : 65535;
      for (let i = 0; i < this.count; i++) if (dates[i] < lo || dates[i] > hi) mask[i] = 0;
    }
    return mask;
  }

  // [{position, score}] of the k papers closest to the unit vector `query`, best first.
  async semantic(query, k, filters, exclude = -1) {
    const [codes, mask] = await Promise.all([this.codes(), this.mask(filters)]);
    // a filter scatters the candidates over entries.bin: then fewer of them, in every run they need
    const [keep, requests] = mask ? [FILTERED_CANDIDATES, Infinity] : [CANDIDATES, REQUESTS];
    const candidates = scanCodes(query, codes, this.codeBytes, this.count, mask, exclude, keep);
    const entries = await this.entries(candidates, requests); // the candidates of the runs it fetched
    const scored = [...entries].map(([p, { row }]) => ({ position: p, score: dot(query, row) / this.meta.scale }));
    scored.sort((a, b) => b.score - a.score || a.position - b.position);
    return scored.slice(0, k);
  }

  // Papers closest to the paper at `position` (never itself).
  async similar(position, k) {
    const { row } = (await this.entries([position])).get(position);
    const query = new Float32Array(row.length);
    let norm = 0;
    for (let i = 0; i < row.length; i++) { query[i] = row[i]; norm += row[i] * row[i]; }
    for (let i = 0; i < row.length; i++) query[i] /= Math.sqrt(norm) || 1;
    return this.semantic(query, k, {}, position);
  }

  // Map position -> {row, record}, for `positions` (best first) in runs of neighbouring entries,
  // one HTTP Range request each unless cached. With `maxRequests`, only the runs of most weight
  // count, cached or not, so that a search gives the same answer whatever was fetched before it.
  async entries(positions, maxRequests = Infinity) {
    const spans = await this.spans();
    const runs = heaviest(coalesce(new Set(positions), spans), positions, maxRequests);
    const missing = runs.filter((run) => run.positions.some((p) => !this.entryCache.has(p)));
    await Promise.all(missing.map((run) => this.fetchEntries(run, spans)));
    const kept = new Set(runs.flatMap((run) => run.positions));
    return new Map(positions.filter((p) => kept.has(p)).map((p) => [p, this.entryCache.get(p)]));
  }

  async fetchEntries({ start, end, positions }, spans) {
    const response = await fetch('data/entries.bin', { headers: { Range: `bytes=${start}-${end - 1}` } });
    if (!response.ok) throw new Error(`data/entries.bin: HTTP ${response.status}`);
    const bytes = new Uint8Array(await response.arrayBuffer());
    const offset = response.status === 206 ? start : 0; // a server without Range support sends it all
    const dim = this.dim;
    for (const p of positions) {
      if (this.entryCache.has(p)) continue; // a run is fetched whole when any of it is missing
      const entry = bytes.subarray(spans[2 * p] - offset, spans[2 * p + 1] - offset);
      const row = new Int8Array(entry.buffer, entry.byteOffset, dim);
      this.entryCache.set(p, { row, record: unpack(JSON.parse(decoder.decode(entry.subarray(dim)))) });
    }
  }

  // [{position, score}] by words of the titles, rarer words weighing more; best first.
  async lexical(text, k, filters) {
    const [lexicon, mask] = await Promise.all([this.loadLexicon(), this.mask(filters)]);
    const phrase = text.trim().toLowerCase();
    const scores = new Map();
    for (const word of new Set(tokens(text))) {
      const positions = lexicon.titlesWith(word);
      const weight = Math.log(1 + this.count / positions.length);
      for (const p of positions) if (!mask || mask[p]) scores.set(p, (scores.get(p) || 0) + weight);
    }
    const titles = await this.titles();
    const hits = [...scores].map(([position, score]) => ({
      position, score: score + (phrase && String(titles[position]).toLowerCase().includes(phrase) ? 1000 : 0),
    }));
    hits.sort((a, b) => b.score - a.score || a.position - b.position);
    return hits.slice(0, k);
  }

  // Every title's words in one string (lower case, accents dropped as tokens() drops them; a line per
  // title), searched word by word: ~0.1 s at 100,000 titles, where an index of every word took ~0.7 s
  // of the page's one thread before the first answer.
  async loadLexicon() {
    if (this.lexicon) return this.lexicon;
    const titles = await this.titles();
    const text = titles.map((t) => String(t).replace(/\n/g, ' ')).join('\n').toLowerCase()
      .replace(/[^\x00-\x7f]+/g, (run) => run.normalize('NFKD').replace(/\p{M}/gu, ''));
    const starts = [0];
    for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) starts.push(at + 1);
    this.lexicon = { titlesWith: (word) => titlesWith(text, starts, word) };
    return this.lexicon;
  }
}

// Positions (ascending) of the titles holding `word` as a whole word (tokens()' sense), in the
// lexicon's string whose titles start at `starts`.
function titlesWith(text, starts, word) {
  const positions = [];
  let title = 0;
  for (let at = text.indexOf(word); at !== -1; at = text.indexOf(word, at + 1)) {
    const end = at + word.length;
    if ((at > 0 && isWordChar(codeBefore(text, at))) || (end < text.length && isWordChar(text.codePointAt(end)))) continue;
    while (title + 1 < starts.length && starts[title + 1] <= at) title++;
    if (positions[positions.length - 1] !== title) positions.push(title);
  }
  return positions;
}

const LETTER_OR_DIGIT = /[\p{L}\p{N}]/u;
function isWordChar(code) {
  return (code >= 48 && code <= 57) || (code >= 97 && code <= 122) || (code >= 65 && code <= 90)
    || (code > 127 && LETTER_OR_DIGIT.test(String.fromCodePoint(code)));
}

function codeBefore(text, at) { // the code point ending just before `at` (a letter outside the BMP is two units)
  const unit = text.charCodeAt(at - 1);
  return unit >= 0xdc00 && unit <= 0xdfff && at >= 2 ? text.codePointAt(at - 2) : unit;
}

// Runs of entries no more than GAP bytes apart, each {start, end, positions}, in file order.
function coalesce(positions, spans) {
  const runs = [];
  for (const p of [...positions].sort((a, b) => spans[2 * a] - spans[2 * b])) {
    const last = runs[runs.length - 1];
    if (last && spans[2 * p] - last.end <= GAP) {
      last.positions.push(p);
      last.end = Math.max(last.end, spans[2 * p + 1]);
    } else runs.push({ start: spans[2 * p], end: spans[2 * p + 1], positions: [p] });
  }
  return runs;
}

// The `limit` runs whose positions rank best in `ranked` (all of them when they are that few).
function heaviest(runs, ranked, limit) {
  if (runs.length <= limit) return runs;
  const rank = new Map(ranked.map((p, i) => [p, i]));
  const weight = (run) => run.positions.reduce((sum, p) => sum + 1 / (RANK_WEIGHT + rank.get(p)), 0);
  return runs.map((run) => [weight(run), run]).sort((a, b) => b[0] - a[0]).slice(0, limit).map(([, run]) => run);
}

// The best `keep` positions by asymmetric code score (sum of +q or -q per bit), best first.
export function scanCodes(query, codes, codeBytes, count, mask, exclude, keep) {
  const table = new Float32Array(codeBytes * 256);
  for (let b = 0; b < codeBytes; b++) {
    for (let v = 0; v < 256; v++) {
      let s = 0;
      for (let j = 0; j < 8; j++) s += (v >> j) & 1 ? query[b * 8 + j] : -query[b * 8 + j];
      table[b * 256 + v] = s;
    }
  }
  // four code bytes per load (~40% faster than one by one) when codes are whole 32-bit words, as
  // every model's are (dim % 32 == 0); little-endian, as every browser is
  const words = codeBytes % 4 ? null : new Uint32Array(codes.buffer, codes.byteOffset, (count * codeBytes) >> 2);
  const bestScore = new Float32Array(keep).fill(-Infinity);
  const bestPos = new Int32Array(keep).fill(-1);
  let floor = -Infinity;
  let floorAt = 0;
  for (let i = 0, off = 0; i < count; i++, off += codeBytes) {
    if ((mask && !mask[i]) || i === exclude) continue;
    let s = 0;
    if (words) {
      for (let w = off >> 2, t = 0; t < codeBytes << 8; w++, t += 1024) {
        const x = words[w];
        s += table[t | (x & 255)] + table[t | 256 | ((x >>> 8) & 255)]
          + table[t | 512 | ((x >>> 16) & 255)] + table[t | 768 | (x >>> 24)];
      }
    } else for (let b = 0; b < codeBytes; b++) s += table[(b << 8) | codes[off + b]];
    if (s <= floor) continue;
    bestScore[floorAt] = s;
    bestPos[floorAt] = i;
    floor = Infinity;
    for (let j = 0; j < keep; j++) if (bestScore[j] < floor) { floor = bestScore[j]; floorAt = j; }
  }
  const order = [...bestPos.keys()].filter((j) => bestPos[j] >= 0);
  order.sort((a, b) => bestScore[b] - bestScore[a] || bestPos[a] - bestPos[b]);
  return order.map((j) => bestPos[j]);
}

function dot(query, row) {
  let s = 0;
  for (let i = 0; i < row.length; i++) s += query[i] * row[i];
  return s;
}

export function tokens(text) {
  return String(text).toLowerCase().normalize('NFKD').replace(/\p{M}/gu, '').match(/[\p{L}\p{N}]+/gu) || [];
}

function dayNumber(iso) {
  const t = Date.parse(`${iso}T00:00:00Z`);
  return Number.isNaN(t) ? 0 : Math.floor(t / 86400000);
}

// A record of files.py; "" links are arXiv's own for the id.
function unpack([id, date, title, topics, tldr, authors, abs, pdf]) {
  const arxiv = (kind, url) => url || `https://arxiv.org/${kind}/${id}`;
  return { id, date, title, topics, tldr, authors, abs: arxiv('abs', abs), pdf: arxiv('pdf', pdf) };
}
