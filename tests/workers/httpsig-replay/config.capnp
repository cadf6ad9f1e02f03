# workerd configuration for the RFC 9421 replay test Worker (tests/it/worker_replay.rs).
# Build first (`worker-build --profile worker` writes build/), then, from this folder:
#
#     workerd serve config.capnp
#
# Two services run the same Worker (two isolates): "main" on 127.0.0.1:8787 and
# "main2" on 127.0.0.1:8788. Both keep nonces in the Durable Object namespace of
# "main", so a nonce accepted by one is refused by the other. The key is a test key.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .replayWorker),
    (name = "main2", worker = .replayWorker2),
  ],
  sockets = [
    (name = "http", address = "127.0.0.1:8787", http = (), service = "main"),
    (name = "http2", address = "127.0.0.1:8788", http = (), service = "main2"),
  ],
);

const replayWorker :Workerd.Worker = (
  modules = [
    (name = "index.js", esModule = embed "build/index.js"),
    (name = "index_bg.wasm", wasm = embed "build/index_bg.wasm"),
  ],
  compatibilityDate = "2026-11-01",
  bindings = [
    (name = "SERVICE", text = "main"),
    (name = "EDGE_AUTH_HTTPSIG_ALG", text = "hmac-sha256"),
    (name = "EDGE_AUTH_HTTPSIG_KEY_ID", text = "test-client"),
    (name = "EDGE_AUTH_HTTPSIG_KEY", text = "edge-auth replay test worker hmac key 0123456789"),
    (name = "EDGE_AUTH_HTTPSIG_COMPONENTS", text = "@method @authority @path"),
    (name = "EDGE_AUTH_NONCES_DO", text = "EDGE_AUTH_NONCES"),
    (name = "EDGE_AUTH_NONCES", durableObjectNamespace = "EdgeAuthNonces"),
  ],
  durableObjectNamespaces = [ (className = "EdgeAuthNonces", uniqueKey = "edge-auth-nonces") ],
  durableObjectStorage = (inMemory = void),
);

# The second isolate: same code and settings, the first's object namespace.
const replayWorker2 :Workerd.Worker = (
  modules = [
    (name = "index.js", esModule = embed "build/index.js"),
    (name = "index_bg.wasm", wasm = embed "build/index_bg.wasm"),
  ],
  compatibilityDate = "2026-11-01",
  bindings = [
    (name = "SERVICE", text = "main2"),
    (name = "EDGE_AUTH_HTTPSIG_ALG", text = "hmac-sha256"),
    (name = "EDGE_AUTH_HTTPSIG_KEY_ID", text = "test-client"),
    (name = "EDGE_AUTH_HTTPSIG_KEY", text = "edge-auth replay test worker hmac key 0123456789"),
    (name = "EDGE_AUTH_HTTPSIG_COMPONENTS", text = "@method @authority @path"),
    (name = "EDGE_AUTH_NONCES_DO", text = "EDGE_AUTH_NONCES"),
    (name = "EDGE_AUTH_NONCES", durableObjectNamespace = (className = "EdgeAuthNonces", serviceName = "main")),
  ],
);
