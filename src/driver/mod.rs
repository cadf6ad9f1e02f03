//! The I/O half: drivers that run the sans-IO [`Gate`](crate::gate::Gate)
//! for one runtime each. Everything here is behind a cargo feature and none
//! is in the default build; only this module reads a clock or does I/O.
//!
//! | feature  | module | brings |
//! |----------|--------|--------|
//! | `worker` | [`worker`] | the Gate in a Cloudflare Worker (workers-rs 0.8): key fetches with `Fetch`, key state in KV, refresh with `waitUntil`; wasm32 only for the runtime part |

#[cfg(feature = "worker")]
pub mod worker;
