// The page script of loader.html: waits for the loader's readgate:ready or
// readgate:error, then runs one query with window.readgate (the query body is
// the page's ?query= parameter). The outcome goes to window.loaderOutcome.
'use strict';
(function () {
  var params = new URLSearchParams(window.location.search);
  window.loaderOutcome = null;
  window.loaderEvents = [];

  function finish(outcome) {
    window.loaderOutcome = outcome;
    var el = document.getElementById('status');
    if (el) el.textContent = outcome.event;
  }

  function errorInfo(e) {
    return { isReadgateError: !!(window.Readgate && e instanceof window.Readgate.ReadgateError),
      code: e.code, status: e.status, message: e.message };
  }

  function ready(client) {
    var out = { event: 'ready', sessionToken: client.sessionToken,
      isClient: client instanceof window.Readgate.ReadgateClient,
      sameAsGlobal: client === window.readgate };
    var query = params.get('query');
    if (!query) return finish(out);
    client.query(JSON.parse(query)).then(function (page) {
      out.rows = page.rows;
      finish(out);
    }, function (e) {
      out.queryError = errorInfo(e);
      finish(out);
    });
  }

  document.addEventListener('readgate:ready', function (e) {
    window.loaderEvents.push('readgate:ready');
    ready(e.detail.client);
  });
  document.addEventListener('readgate:error', function (e) {
    window.loaderEvents.push('readgate:error');
    finish({ event: 'error', error: errorInfo(e.detail.error) });
  });
  // the loader may have finished before this script ran
  if (window.readgate) ready(window.readgate);
  else if (window.readgateError) finish({ event: 'error', error: errorInfo(window.readgateError) });
})();
