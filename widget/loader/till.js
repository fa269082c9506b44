// Till's loader, served as /till.js. It paints every buy button at once (a shopper can see
// and click it before any WebAssembly arrives), loads the widget on the first hover, focus,
// sight or click of a button, and hands the buttons over. When the overlay cannot open
// (a CSP, a blocked request, a timeout), a click goes to the checkout page instead.
//
// The build inlines the button styles (widget/src/button.css) at BUTTON_CSS and minifies.
// Embed forms and options: see the docs page (/docs/#buy-button) and till.d.ts.
((w, d) => {
  if (w.Till) return;
  const me = d.currentScript;
  const base = new URL(me.src).origin;

  let widget;
  const load = () => {
    if (!widget) {
      widget = import(`${base}/pkg/till_widget.js`).then(async (m) => (await m.default(), m));
      widget.catch(() => {});
    }
    return widget;
  };

  const fallback = (url, why) => {
    console.warn(
      `Till: ${why}; opening the checkout page. The overlay needs CSP:\n` +
        `  script-src ${base} 'wasm-unsafe-eval'\n  connect-src ${base}\n  frame-src ${new URL(url).origin}`,
    );
    location.assign(url);
  };

  // An option of an element: `name` on <till-buy-button>, `data-name` on a script or a link,
  // else the loader script's `data-name` when that script paints no button of its own.
  const defaults = me.dataset.link || me.dataset.product ? null : me;
  const config = (el) => {
    const o = (n) => el.getAttribute(n) ?? el.getAttribute(`data-${n}`) ?? defaults?.getAttribute(`data-${n}`);
    const product = o("product");
    const link = o("link") || "";
    // A link is a full http(s) URL or a code on this Till: `/evil.example` is a code, and
    // never becomes `//evil.example` (another host).
    const url = new URL(
      el.href || (product ? `/b/${product}` : /^https?:/.test(link) ? link : `/${encodeURIComponent(link)}`),
      base,
    );
    // React keeps `key` to itself: <till-buy-button publishable-key="pk_…"> there.
    if (product) url.searchParams.set("key", o("publishable-key") || o("key"));
    // email → prefilled_email, client-reference-id → client_reference_id, …
    for (const a of ["email", "name", "client-reference-id", "locale", "theme"])
      if (o(a)) url.searchParams.set(("en".includes(a[0]) ? "prefilled_" : "") + a.replaceAll("-", "_"), o(a));
    return {
      url: url.href,
      // The only origin whose messages count, and the only one the overlay opens checkout
      // from (the widget checks `url` against it): the one this loader was served from.
      origin: base,
      text: o("text") || "Buy now",
      theme: o("theme") || "light",
      color: o("color"),
      float: o("float"),
      margin: o("margin"),
      successUrl: o("success-url"),
      mode: o("mode"),
      fallback: (why) => fallback(url.href, why),
    };
  };

  const go = (el, c) => {
    if (c.mode == "redirect") return location.assign(c.url);
    let done;
    const once = (f) => () => done || ((done = 1), clearTimeout(timer), f());
    const timer = setTimeout(once(() => c.fallback("the widget timed out")), 6000);
    load().then(
      (m) => once(() => m.open(c, el))(),
      (e) => once(() => c.fallback(`the widget failed to load (${e})`))(),
    );
  };

  const paint = (host) => {
    if (host.shadowRoot) return;
    const c = config(host);
    const button = d.createElement("button");
    const style = d.createElement("style");
    style.textContent = BUTTON_CSS;
    button.type = "button";
    button.setAttribute("part", "button");
    button.textContent = c.text;
    button.onclick = () => go(host, c);
    host.setAttribute("theme", c.theme);
    if (c.float) host.setAttribute("float", c.float);
    if (c.color) host.style.setProperty("--till-color", c.color);
    if (c.margin) host.style.setProperty("--till-margin", c.margin);
    host.attachShadow({ mode: "open" }).append(style, button);
    let adopted;
    const wake = () => (adopted ||= load().then((m) => m.adopt(host, c), () => {}));
    host.addEventListener("pointerenter", wake);
    host.addEventListener("focusin", wake);
    new IntersectionObserver((seen, watch) => seen[0].isIntersecting && (watch.disconnect(), wake())).observe(host);
  };

  // (A second copy of this script stopped at `w.Till` above: defined once.)
  customElements.define("till-buy-button", class extends HTMLElement {
    connectedCallback() {
      paint(this);
    }
  });

  // <script src="…/till.js" data-link="…">: a button where the tag is.
  if (me.dataset.link || me.dataset.product) {
    const host = d.createElement("till-buy-button");
    for (const a of me.attributes) if (a.name.startsWith("data-")) host.setAttribute(a.name.slice(5), a.value);
    d.body ? me.after(host) : d.addEventListener("DOMContentLoaded", () => d.body.append(host));
  }

  // <a class="till-button" href="{payment link}">: opens in the overlay; a modified click
  // (new tab, new window), or a link to anything but this Till, still does what links do.
  const anchor = (e) => e.target.closest?.(`a.till-button[href^="${base}/"]`);
  d.addEventListener("click", (e) => {
    const a = anchor(e);
    if (!a || e.defaultPrevented || e.button || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    go(a, config(a));
  });
  for (const type of ["pointerover", "focusin"]) d.addEventListener(type, (e) => anchor(e) && load());

  w.Till = {
    open(options = {}) {
      const el = d.createElement("till-options");
      for (const [k, v] of Object.entries(options)) el.setAttribute(k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`), v);
      go(null, config(el));
    },
    close() {
      widget?.then((m) => m.close());
    },
  };
})(window, document);
