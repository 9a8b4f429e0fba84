// Search ranking of the reports site (html_search_scorer): Sphinx's scores, plus how often
// the query's words occur in the page's text, and much more for each one in its title or
// schedule description (window.ODA_PAGE_TEXT and ODA_PAGE_LEDE, from oda-page-text.js).
var Scorer = {
  score: (result) => {
    const text = ((window.ODA_PAGE_TEXT || {})[result[0]] || "").toLowerCase();
    const lede = ((window.ODA_PAGE_LEDE || {})[result[0]] || "").toLowerCase();
    const query = new URLSearchParams(window.location.search).get("q") || "";
    let count = 0;
    for (const word of query.toLowerCase().split(/\W+/).filter((w) => w.length > 1)) {
      count += Math.min(text.split(word).length - 1, 40) + 50 * (lede.includes(word) ? 1 : 0);
    }
    return result[4] + count;
  },
  objNameMatch: 11,
  objPartialMatch: 6,
  objPrio: { 0: 15, 1: 5, 2: -5 },
  objPrioDefault: 0,
  title: 15,
  partialTitle: 7,
  term: 5,
  partialTerm: 2,
};
