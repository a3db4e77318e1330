// Gatehouse's playground: mounts GraphiQL (served from this server, see
// assets/MANIFEST) on #graphiql. No inline script: the page's CSP allows
// scripts from this origin only.
(function () {
  "use strict";

  var root = document.getElementById("graphiql");
  var tokenField = document.getElementById("token");
  var endpoint = root.getAttribute("data-endpoint");
  var wsScheme = location.protocol === "https:" ? "wss://" : "ws://";

  // Queries and mutations go as POST to the endpoint; subscriptions over a
  // graphql-ws WebSocket to the same endpoint.
  var base = GraphiQL.createFetcher({
    url: endpoint,
    subscriptionUrl: wsScheme + location.host + endpoint,
  });

  // The token field's value, read at each request, becomes the
  // Authorization header (over a WebSocket: the connection_init payload).
  // It is kept only in this page's memory, never stored.
  function fetcher(params, opts) {
    var o = Object.assign({}, opts);
    o.headers = Object.assign({}, opts && opts.headers);
    var token = tokenField.value.trim();
    if (/^bearer\s+/i.test(token)) {
      token = token.replace(/^bearer\s+/i, "");
    }
    if (token !== "") {
      o.headers.Authorization = "Bearer " + token;
    }
    return base(params, o);
  }

  // ?query=…&variables=…&operationName=… open the editor with them.
  var search = new URLSearchParams(location.search);
  var props = {
    fetcher: fetcher,
    defaultEditorToolsVisibility: true,
    // Headers typed into GraphiQL's editor stay out of localStorage unless
    // the user turns on "Persist headers" in its settings.
    storage: GraphiQL.createLocalStorage({ namespace: "gatehouse-playground" }),
    defaultQuery:
      "# Paste a session token above (from the login mutation), then run:\n" +
      "{\n  me {\n    username\n    role\n  }\n}\n",
  };
  ["query", "variables", "operationName"].forEach(function (k) {
    if (search.has(k)) {
      props[k] = search.get(k);
    }
  });

  ReactDOM.createRoot(root).render(React.createElement(GraphiQL, props));
})();
