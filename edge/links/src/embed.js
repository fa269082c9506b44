// Inside Till's checkout overlay: messages to the merchant page that framed this one, and
// only to it. Its origin is in data-parent (and in the page's frame-ancestors, so the
// browser has already checked that this origin is the one framing us).
(() => {
  const parentOrigin = document.documentElement.dataset.parent;
  if (!parentOrigin || window.parent === window) return;
  const post = (message) => window.parent.postMessage({ till: 1, ...message }, parentOrigin);
  const height = () => Math.ceil(document.documentElement.getBoundingClientRect().height);
  let greeted = false;
  // What this page has to report (a success, an error), sent once the parent has greeted us.
  const say = () => {
    const said = document.querySelector("main[data-say]");
    if (greeted && said) post(JSON.parse(said.dataset.say));
  };
  window.addEventListener("message", (event) => {
    if (event.source !== window.parent || event.origin !== parentOrigin) return;
    if (event.data?.till !== 1 || event.data.type !== "hello") return;
    greeted = true;
    post({ type: "ready", height: height() });
    say();
  });
  new ResizeObserver(() => greeted && post({ type: "resize", height: height() })).observe(document.body);
  // checkout.js: a payment is being confirmed (the overlay must not close), or it is over.
  document.addEventListener("till:busy", (event) => post({ type: "busy", busy: event.detail }));
  document.addEventListener("till:page", say);
  // Escape inside the frame reaches this document, not the merchant's dialog: ask it to close.
  document.addEventListener("keydown", (event) => event.key === "Escape" && post({ type: "close" }));
  document.addEventListener("click", (event) => {
    if (!event.target.closest("a[data-close]")) return;
    event.preventDefault();
    post({ type: "close" });
  });
})();
