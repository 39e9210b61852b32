// Building the page from data. Paper text only ever reaches the DOM as text (append/textContent):
// nothing here parses HTML, and links go through safeUrl, which lets only http(s) through.

export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === 'className') node.className = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key === 'text') node.textContent = value;
    else node.setAttribute(key, String(value)); // never href: see link()
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

// An absolute http(s) URL, or null for anything else (javascript:, data:, relative tricks).
export function safeUrl(value) {
  try {
    const url = new URL(String(value));
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
  } catch {
    return null;
  }
}

// A link to another site; plain text when the URL is not http(s).
export function link(text, url) {
  const href = safeUrl(url);
  if (href === null) return el('span', {}, text);
  return el('a', { href, rel: 'noopener noreferrer nofollow' }, text);
}

// A link inside the site (hash routes); the parts are encoded, so no text can leave the hash.
export function route(text, ...parts) {
  const a = el('a', {}, text);
  a.href = '#' + parts.map((p) => encodeURIComponent(String(p))).join('/');
  return a;
}

export function clear(node) {
  node.replaceChildren();
  return node;
}
