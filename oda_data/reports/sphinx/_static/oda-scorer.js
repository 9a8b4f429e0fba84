// Search ranking of the reports site (html_search_scorer): Sphinx's scores, plus how often
// the query's words occur in the page's text (window.ODA_PAGE_TEXT, from oda-page-text.js).
var Scorer = {
  score: (result) => {
    const text = ((window.ODA_PAGE_TEXT || {})[result[0]] || "").toLowerCase();
    const query = new URLSearchParams(window.location.search).get("q") || "";
    let count = 0;
    for (const word of query.toLowerCase().split(/\W+/).filter((w) => w.length > 1)) {
      count += text.split(word).length - 1;
    }
    return result[4] + Math.min(count, 40);
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
