//! Rejections to HTTP responses: 401 / 403 with an RFC 6750 §3
//! `WWW-Authenticate` challenge, never leaking internals.
