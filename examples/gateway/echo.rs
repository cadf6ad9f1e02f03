//! The echo upstream: answers every request with the request it saw as JSON
//! (method, path, query, headers, body length), so the test and a person with
//! curl can see exactly what the gateway forwarded, identity and signature
//! headers included.

use std::net::SocketAddr;

use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::{Map, Value, json};

use super::net::{Body, ServerHandle, json_response, serve};

/// A running echo upstream.
#[derive(Debug)]
pub struct EchoHandle {
    server: ServerHandle,
}

impl EchoHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }
}

/// Starts the echo upstream on `addr` (loopback; port 0 picks one).
///
/// # Errors
/// When the address cannot be bound.
pub async fn start_echo(addr: SocketAddr) -> std::io::Result<EchoHandle> {
    let server = serve(addr, |request, _peer| echo(request)).await?;
    Ok(EchoHandle { server })
}

async fn echo(request: Request<Incoming>) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let body_len = match body.collect().await {
        Ok(collected) => collected.to_bytes().len(),
        Err(_) => return json_response(StatusCode::BAD_REQUEST, &json!({"error": "bad body"})),
    };
    let mut headers = Map::new();
    for (name, value) in &parts.headers {
        let text = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if let Value::Array(values) = headers
            .entry(name.as_str())
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            values.push(Value::String(text));
        }
    }
    json_response(
        StatusCode::OK,
        &json!({
            "method": parts.method.as_str(),
            "path": parts.uri.path(),
            "query": parts.uri.query(),
            "headers": headers,
            "body_len": body_len,
        }),
    )
}
