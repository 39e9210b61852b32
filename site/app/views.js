// The browsing views, one per hash route: #today (default), #days, #day/DATE, #topics,
// #topic/I, #themes, #paper/ID.
import { clear, el, link, route } from './dom.js';
import { paperItem, paperList, pagedList } from './cards.js';

export async function showView(index, view, hash) {
  const [name, ...rest] = hash.replace(/^#/, '').split('/').map(decodeURIComponent);
  const render = { days, day, topics, topic, themes, paper }[name] || today;
  clear(view).append(el('p', { className: 'loading' }, 'Loading…'));
  try {
    const content = await render(index, ...rest);
    clear(view).append(...content);
  } catch (error) {
    clear(view).append(el('p', { className: 'error' }, `Could not show this page: ${error.message}`));
  }
}

async function today(index) {
  const data = await index.list('today');
  const out = [el('h2', {}, `Today: ${data.date || 'no papers yet'}`)];
  for (const pick of data.picks) {
    out.push(el('h3', {}, `Top picks for ${pick.profile}`));
    out.push(paperList(await index.records(pick.positions), index.meta.topics));
  }
  const themeData = await index.list('themes');
  const rising = (themeData.themes || []).filter((t) => t.rising);
  if (rising.length) {
    out.push(el('h3', {}, 'Rising themes'), el('ul', {}, ...rising.map((t) => el('li', {}, route(String(t.label), 'themes')))));
  }
  out.push(el('h3', {}, `New on ${data.date || '-'} (${data.positions.length})`), pagedList(index, data.positions, 20));
  return out;
}

async function days(index) {
  const list = await index.list('days');
  return [el('h2', {}, 'Every day'), el('ul', { className: 'days' },
    ...list.map(([date, count]) => el('li', {}, route(String(date), 'day', date), ` ${count} papers`)))];
}

async function day(index, date) {
  const data = await index.list(`day/${encodeURIComponent(date)}`);
  return [el('h2', {}, `Digest of ${data.date}`), pagedList(index, data.positions)];
}

async function topics(index) {
  const counts = index.meta.topic_counts || [];
  return [el('h2', {}, 'Topics'), el('ul', {},
    ...index.meta.topics.map((name, i) => el('li', {}, route(String(name), 'topic', i), ` ${counts[i] ?? ''}`)))];
}

async function topic(index, i) {
  const positions = await index.list(`topic-${Number(i)}`);
  return [el('h2', {}, String(index.meta.topics[Number(i)] ?? 'Unknown topic')), pagedList(index, positions)];
}

async function themes(index) {
  const data = await index.list('themes');
  const out = [el('h2', {}, `Themes of the weeks ending ${data.end || '-'}`)];
  for (const theme of data.themes || []) {
    const growth = theme.growth == null ? 'growth n/a' : `growth ×${Number(theme.growth).toFixed(2)}`;
    out.push(el('section', { className: theme.rising ? 'theme rising' : 'theme' },
      el('h3', {}, String(theme.label)),
      el('p', { className: 'meta' }, `${theme.rising ? 'rising · ' : ''}${growth} · ${(theme.terms || []).join(', ')}`),
      barChart(theme.counts || [], (data.weeks || []).map((w) => w.end)),
      pagedList(index, theme.positions || [], 10)));
  }
  return out;
}

// Weekly counts as an SVG bar chart, built node by node (no markup strings).
function barChart(counts, labels) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  const top = Math.max(1, ...counts);
  svg.setAttribute('viewBox', `0 0 ${counts.length * 40} 70`);
  svg.setAttribute('class', 'chart');
  counts.forEach((count, i) => {
    const h = (50 * count) / top;
    const bar = document.createElementNS(ns, 'rect');
    for (const [k, v] of Object.entries({ x: i * 40 + 8, y: 55 - h, width: 24, height: h })) bar.setAttribute(k, v);
    const title = document.createElementNS(ns, 'title');
    title.textContent = `${labels[i] || ''}: ${count}`;
    bar.append(title);
    const text = document.createElementNS(ns, 'text');
    for (const [k, v] of Object.entries({ x: i * 40 + 20, y: 68, 'text-anchor': 'middle' })) text.setAttribute(k, v);
    text.textContent = String(count);
    svg.append(bar, text);
  });
  return svg;
}

async function paper(index, id) {
  const position = (await index.ids()).indexOf(id);
  if (position < 0) return [el('p', { className: 'error' }, `No paper ${id} on this site.`)];
  const [record] = await index.records([position]);
  const similar = await index.similar(position, 10);
  return [el('ul', { className: 'papers single' }, paperItem(record, index.meta.topics)),
    el('p', {}, link('arXiv abstract', record.abs), ' · ', link('PDF', record.pdf)),
    el('h3', {}, 'Similar papers'),
    paperList(await index.records(similar.map((h) => h.position)), index.meta.topics)];
}
