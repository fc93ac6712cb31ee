// Scenario of classic.html: the classic build (window.Readgate) in a real page.
'use strict';
window.scenarios = {
  classic: function (args) {
    var client = new window.Readgate.ReadgateClient({ baseUrl: args.gateway, siteId: args.site });
    return client.open().then(function () {
      return client.query(args.query);
    }).then(function (page) {
      return { token: client.sessionToken, rows: page.rows, version: window.Readgate.VERSION,
        module: typeof window.Readgate.ReadgateClient };
    }, function (e) {
      return { error: { code: e.code, status: e.status, message: e.message } };
    });
  },
};
