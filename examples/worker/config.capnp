# workerd configuration for the edge-auth Worker: what `wrangler dev` runs, without
# wrangler. Build first (`worker-build --release` writes build/), then, from this folder:
#
#     workerd serve config.capnp
#
# and it answers on 127.0.0.1:8787 (`--socket-addr http=127.0.0.1:PORT` moves it, as
# tests/worker.rs does).
# The bindings match wrangler.toml; keep the two in step.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .edgeAuthWorker),
    # The Worker's own fetch() (JWKS and discovery documents, the origin). Overriding
    # workerd's default lets it reach loopback too, e.g. a test issuer on 127.0.0.1.
    (name = "internet", network = (allow = ["public", "local"])),
    # Backs the EDGE_AUTH_JWKS KV binding (the serialised JWKS cache state). A disk
    # service does not speak the KV protocol (a put never completes), so a small
    # in-memory worker stands in for Workers KV.
    (name = "jwks-kv", worker = .kvMemory),
  ],
  sockets = [
    (name = "http", address = "127.0.0.1:8787", http = (), service = "main"),
  ],
);

const edgeAuthWorker :Workerd.Worker = (
  modules = [
    (name = "index.js", esModule = embed "build/index.js"),
    (name = "index_bg.wasm", wasm = embed "build/index_bg.wasm"),
  ],
  compatibilityDate = "2026-11-01",
  bindings = [
    # Same values as wrangler.toml [vars]; see edge_auth_worker's constants.
    # The policy document (edge_auth::policy); missing or invalid: every request gets 500.
    (name = "EDGE_AUTH_POLICY", text = "{\"rules\": [{\"id\": \"health\", \"match\": {\"methods\": [\"GET\"], \"paths\": [\"/healthz\"]}, \"require\": {\"anonymous\": true}, \"effect\": \"allow\"}, {\"id\": \"api\", \"match\": {\"paths\": [\"/api/**\"]}, \"require\": {\"authenticated\": true}, \"effect\": \"allow\"}]}"),
    (name = "EDGE_AUTH_ISSUER", text = "https://idp.example.com"),
    (name = "EDGE_AUTH_AUDIENCE", text = "api://edge-auth-example"),
    # Without EDGE_AUTH_JWKS_URI the keys are found by OpenID Connect discovery.
    # (name = "EDGE_AUTH_JWKS_URI", text = "https://idp.example.com/jwks"),
    (name = "EDGE_AUTH_ROLES_CLAIM", text = "roles"),
    # With an origin, allowed requests go there signed (RFC 9421) with this key:
    # (name = "EDGE_AUTH_ORIGIN", text = "https://origin.example.com"),
    # (name = "EDGE_AUTH_UPSTREAM_KEY", text = "at least 32 bytes of secret"),
    # Seals the key state in KV (a secret in production; see wrangler.toml):
    # (name = "EDGE_AUTH_SEAL_SECRET", text = "base64 of 32 random bytes"),
    (name = "EDGE_AUTH_JWKS", kvNamespace = "jwks-kv"),
    # Rate limits shared by all isolates, in the Durable Object class EdgeAuthLimits.
    (name = "EDGE_AUTH_LIMITS_DO", text = "EDGE_AUTH_LIMITS"),
    (name = "EDGE_AUTH_LIMITS", durableObjectNamespace = "EdgeAuthLimits"),
  ],
  durableObjectNamespaces = [ (className = "EdgeAuthLimits", uniqueKey = "edge-auth-limits") ],
  durableObjectStorage = (inMemory = void),
);

const kvMemory :Workerd.Worker = (
  modules = [ (name = "kv-memory.js", esModule = embed "kv-memory.js") ],
  compatibilityDate = "2026-11-01",
);
