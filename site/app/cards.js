// One paper as a list item: title (to the paper view), date, topics, TL;DR, authors, arXiv links,
// "similar". Every field is text; links are http(s) only (dom.js).
import { el, link, route } from './dom.js';

export function paperItem(record, topics) {
  const names = (record.topics || []).map((i) => topics[i]).filter((n) => n !== undefined);
  return el('li', { className: 'paper', dataset: { arxivId: String(record.id) } },
    el('div', { className: 'title' }, route(String(record.title), 'paper', record.id)),
    el('div', { className: 'meta' },
      el('span', { className: 'date' }, String(record.date || '')), ' ',
      el('span', { className: 'topics' }, names.join(' · '))),
    record.tldr ? el('p', { className: 'tldr' }, String(record.tldr)) : null,
    el('div', { className: 'links' },
      el('span', { className: 'authors' }, (record.authors || []).join(', ')), ' ',
      link('abs', record.abs), ' ', link('pdf', record.pdf), ' ',
      route('similar', 'paper', record.id)));
}

// A paper known only by its id and title (the words' answer while the model loads).
export function titleItem(id, title) {
  return el('li', { className: 'paper', dataset: { arxivId: String(id) } },
    el('div', { className: 'title' }, route(String(title), 'paper', id)));
}

export function paperList(records, topics, tag = 'ol') {
  return el(tag, { className: 'papers' }, ...records.map((r) => paperItem(r, topics)));
}

// A list that shows `step` papers at a time, with a button for the next ones (nothing is cut off).
export function pagedList(index, positions, step = 50) {
  const list = el('ol', { className: 'papers' });
  const more = el('button', { type: 'button', className: 'more' });
  let shown = 0;
  const next = async () => {
    const chunk = positions.slice(shown, shown + step);
    shown += chunk.length;
    for (const r of await index.records(chunk)) list.append(paperItem(r, index.meta.topics));
    more.textContent = `show more (${positions.length - shown} left)`;
    more.hidden = shown >= positions.length;
  };
  more.addEventListener('click', next);
  next();
  return el('div', {}, list, more);
}
