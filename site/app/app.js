// The page: search form (URL ?q=&topic=&profile=&since=&until=), results, and the hash-routed views.
// Searching starts by words (lexical) at once; when the model has loaded, the same query is
// ranked by meaning (semantic). The results list says which: data-search="lexical"|"semantic".
import { el } from './dom.js';
import { paperItem, titleItem } from './cards.js';
import { canUseModel, loadEncoder, preloadModel } from './encoder.js';
import { SiteIndex } from './search.js';
import { showView } from './views.js';

const RESULTS = 20;
const $ = (id) => document.getElementById(id);
const FIELDS = ['q', 'topic', 'profile', 'since', 'until'];

let index = null;
let encoder = null; // set once the model has loaded
let modelState = canUseModel() ? 'loading' : 'unavailable'; // | 'ready'
let modelProblem = modelState === 'unavailable' ? 'this browser has no WebAssembly' : '';
let searchRun = 0;

async function start() {
  index = await SiteIndex.open();
  fillSelect($('topic'), index.meta.topics);
  fillSelect($('profile'), index.meta.profiles);
  const params = new URLSearchParams(location.search);
  for (const name of FIELDS) if (params.has(name)) $(name).value = params.get(name);
  $('search').addEventListener('submit', (event) => { event.preventDefault(); onSubmit(); });
  window.addEventListener('hashchange', () => showView(index, $('view'), location.hash));
  const query = $('q').value.trim();
  // the words' answer first: the model's set-up holds the page's one thread for a second or more
  const searched = loadModel(query ? search() : Promise.resolve());
  // with a query, the view below waits for the search's last answer (at most 5 s): its records'
  // requests would otherwise queue with the model's downloads
  const waited = query ? Promise.race([searched, new Promise((done) => setTimeout(done, 5000))]) : Promise.resolve();
  waited.finally(() => showView(index, $('view'), location.hash));
}

function fillSelect(select, names) {
  names.forEach((name, i) => select.append(el('option', { value: String(i) }, String(name))));
}

async function loadModel(after) {
  if (modelState === 'unavailable') return after;
  try {
    // the model's files and the codes download while the words' answer is made; the model's
    // session waits for that answer, and the first semantic search then only scans the codes
    [encoder] = await Promise.all([loadEncoder(index.meta.model, after), index.codes(), index.spans()]);
    modelState = 'ready';
  } catch (error) {
    modelState = 'unavailable';
    modelProblem = 'the search model did not load';
    console.warn('search model not loaded; searching by words', error);
  }
  if ($('q').value.trim()) await search();
}

function onSubmit() {
  const params = new URLSearchParams();
  for (const name of FIELDS) if ($(name).value) params.set(name, $(name).value);
  history.replaceState(null, '', `?${params}${location.hash}`);
  search();
}

function filters() {
  return { topic: $('topic').value, profile: $('profile').value, since: $('since').value, until: $('until').value };
}

// A search that fails (a request cut or refused) says so in the status line; the list keeps the last answer.
async function search() {
  const run = ++searchRun;
  try {
    await runSearch(run);
  } catch (error) {
    if (run !== searchRun) return;
    $('status').textContent = `The search could not finish (${error.message}); try again.`;
    console.warn('search failed', error);
  }
}

async function runSearch(run) {
  const text = $('q').value.trim();
  if (!text) { $('hits').hidden = true; return; }
  const started = performance.now();
  const semantic = encoder !== null;
  const query = semantic ? await encoder.embed(text) : null;
  const embedded = performance.now();
  const hits = semantic
    ? await index.semantic(query, RESULTS, filters())
    : await index.lexical(text, RESULTS, filters());
  // while the model loads, the words' answer shows titles only: the ranking by meaning replaces it
  // soon, and fetching its records would only slow the model's downloads
  const items = !semantic && modelState === 'loading' ? await titlesOnly(hits) : await cards(hits);
  if (run !== searchRun) return; // a newer search has started
  const ms = Math.round(performance.now() - started);
  const list = $('results');
  list.dataset.search = semantic ? 'semantic' : 'lexical';
  list.dataset.query = text;
  list.dataset.ms = String(ms);
  list.dataset.embedMs = String(Math.round(embedded - started));
  list.replaceChildren(...items);
  $('hits').hidden = false;
  $('status').textContent = statusLine(semantic, items.length, ms);
}

async function cards(hits) {
  const records = await index.records(hits.map((h) => h.position));
  return records.map((r) => paperItem(r, index.meta.topics));
}

async function titlesOnly(hits) {
  const [titles, ids] = await Promise.all([index.titles(), index.ids()]);
  return hits.map((h) => titleItem(ids[h.position], titles[h.position]));
}

function statusLine(semantic, found, ms) {
  const of = `${found} of ${index.count} papers, ${ms} ms`;
  if (semantic) return `Ranked by meaning (${of}).`;
  if (modelState === 'loading') return `Ranked by words while the search model loads (${of}).`;
  return `Ranked by words: ${modelProblem}, so meaning-based search is off (${of}).`;
}

preloadModel(['data/codes.bin', 'data/spans.bin']).catch(() => {}); // only a head start
start().catch((error) => { $('status').textContent = `This site's data could not be loaded: ${error.message}`; });
