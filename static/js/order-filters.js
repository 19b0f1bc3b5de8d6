/* Order list filter bar: leave empty fields out of the request, so the pushed URL stays short and
   bookmarkable (?status=shipped rather than ?q=&status=shipped&channel=&...). */
document.addEventListener("htmx:configRequest", function (event) {
  if (!event.detail.elt.closest || !event.detail.elt.closest("#order-filters")) return;
  var params = event.detail.parameters;
  var keys = typeof params.keys === "function" ? Array.from(params.keys()) : Object.keys(params);
  keys.forEach(function (key) {
    var value = typeof params.get === "function" ? params.get(key) : params[key];
    if (value === "" || value === null) { if (typeof params.delete === "function") params.delete(key); else delete params[key]; }
  });
});
