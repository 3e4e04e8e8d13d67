//! A bare hyper HTTP/1.1 server answering every request with `200 OK` and a two-byte body: the ceiling that
//! `bench/side_by_side.sh` compares dinhdanh with (same machine, same core, same client, same run).
//!
//!   hyper-ok 127.0.0.1:18490
//!
//! It runs on tokio's multi-threaded runtime like `dinhdanh serve`, so pinned to one core (`taskset -c 0`) it has
//! one worker thread, as dinhdanh does.

use std::convert::Infallible;
use std::net::SocketAddr;

use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

async fn ok(_: Request<Incoming>) -> Result<Response<Full<&'static [u8]>>, Infallible> {
    Ok(Response::new(Full::new(&b"OK"[..])))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let address: SocketAddr = std::env::args()
        .nth(1)
        .as_deref()
        .unwrap_or("127.0.0.1:18490")
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("listen address: {e}")))?;
    let listener = TcpListener::bind(address).await?;
    eprintln!("hyper-ok listening on http://{address}");
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service_fn(ok)).await;
        });
    }
}
