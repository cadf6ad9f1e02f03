// An in-memory stand-in for Workers KV under plain workerd, so config.capnp can bind
// EDGE_AUTH_JWKS without Cloudflare or wrangler. It answers what workerd's KV binding
// sends: GET / PUT / DELETE https://fake-host/<encodeURIComponent(key)>?urlencoded=true.
// Values live as long as the workerd process (wrangler dev keeps its own on disk);
// expiration, metadata and list() are not modelled (the JWKS state needs get and put).
const store = new Map();

export default {
  async fetch(request) {
    const url = new URL(request.url);
    const key = decodeURIComponent(url.pathname.slice(1));
    if (key === "") {
      return new Response("list() is not supported by this stand-in", { status: 501 });
    }
    switch (request.method) {
      case "GET": {
        const value = store.get(key);
        return value === undefined ? new Response(null, { status: 404 }) : new Response(value);
      }
      case "PUT":
        store.set(key, await request.arrayBuffer());
        return new Response(null, { status: 200 });
      case "DELETE":
        store.delete(key);
        return new Response(null, { status: 200 });
      default:
        return new Response(null, { status: 405 });
    }
  },
};
