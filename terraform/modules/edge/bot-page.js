// /b/<slug>: a published bot's public page is a view of the single-page app, so serve its shell.
function handler(event) {
  var request = event.request;
  request.uri = "/index.html";
  return request;
}
