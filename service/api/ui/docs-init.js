// The OpenAPI page (/docs): Swagger UI from the swagger-ui-bundle package, served by this server (no CDN);
// a file of its own, not an inline script, so the page keeps the same Content-Security-Policy as the rest.
window.addEventListener("load", () => {
  window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
});
