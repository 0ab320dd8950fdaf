// /docs/try: Swagger UI over this server's OpenAPI document, "Try it out" already on.
"use strict";

window.addEventListener("DOMContentLoaded", () => {
  window.SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    tryItOutEnabled: true,
    deepLinking: true,
    defaultModelsExpandDepth: 0,
  });
});
