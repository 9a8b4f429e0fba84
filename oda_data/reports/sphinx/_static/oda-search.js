// Snippets under each search result, from the page's own text (window.ODA_PAGE_TEXT): no
// request is made, so they appear from file:// as over http.
(() => {
  const query = (new URLSearchParams(window.location.search).get("q") || "").toLowerCase();
  const words = query.split(/\W+/).filter((w) => w.length > 1);
  const snippet = (text) => {
    const lower = text.toLowerCase();
    const at = Math.min(...words.map((w) => lower.indexOf(w)).filter((i) => i >= 0));
    if (!Number.isFinite(at)) return text.slice(0, 240);
    const start = Math.max(at - 100, 0);
    return (start ? "..." : "") + text.slice(start, start + 240).trim() + "...";
  };
  const annotate = (item) => {
    const link = item.querySelector("a");
    if (!link || item.querySelector("p.context")) return;
    const url = new URL(link.getAttribute("href"), document.baseURI);
    const root = new URL(document.documentElement.dataset.content_root || "./", document.baseURI);
    const docname = decodeURIComponent(url.pathname.slice(root.pathname.length)).replace(/\.html$/, "");
    const text = (window.ODA_PAGE_TEXT || {})[docname];
    if (!text) return;
    const p = item.appendChild(document.createElement("p"));
    p.className = "context";
    p.textContent = snippet(text);
  };
  const watch = () => {
    const list = document.getElementById("search-results");
    if (!list) return;
    list.querySelectorAll("li").forEach(annotate);
    new MutationObserver(() => list.querySelectorAll("li").forEach(annotate))
      .observe(list, { childList: true, subtree: true });
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", watch);
  else watch();
})();
