//! Per-IP rate limits for everything a stranger can call. A keyed GCRA limiter (governor) per route group;
//! a refused request gets 429 with `Retry-After` and a problem body, and never reaches a handler.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::problem::ApiError;

/// A limit: `per_minute` requests per IP on average, with bursts of `burst`.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    pub per_minute: u32,
    pub burst: u32,
}

#[derive(Clone)]
pub struct IpRateLimiter {
    limiter: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    /// Reverse proxies whose `X-Forwarded-For` is believed; from anyone else the header is ignored.
    trusted_proxies: Arc<Vec<IpAddr>>,
}

impl IpRateLimiter {
    pub fn new(limit: RateLimit, trusted_proxies: &[IpAddr]) -> Self {
        let per_minute = NonZeroU32::new(limit.per_minute.max(1)).expect("non-zero");
        let burst = NonZeroU32::new(limit.burst.max(1)).expect("non-zero");
        let quota = Quota::per_minute(per_minute).allow_burst(burst);
        Self {
            limiter: Arc::new(DefaultKeyedRateLimiter::keyed(quota)),
            trusted_proxies: Arc::new(trusted_proxies.to_vec()),
        }
    }

    /// The client's address: the peer's, or — when the peer is a trusted proxy — the right-most address of
    /// `X-Forwarded-For` that is not itself a trusted proxy (the left part of the header is the client's to forge).
    pub fn client_ip(&self, peer: IpAddr, forwarded_for: Option<&str>) -> IpAddr {
        if !self.trusted_proxies.contains(&peer) {
            return peer;
        }
        let Some(header) = forwarded_for else { return peer };
        let hops: Vec<IpAddr> = header.split(',').filter_map(|h| h.trim().parse().ok()).collect();
        hops.iter().rev().find(|ip| !self.trusted_proxies.contains(ip)).or(hops.first()).copied().unwrap_or(peer)
    }

    /// Ok, or the seconds to wait.
    pub fn check(&self, ip: IpAddr) -> Result<(), i64> {
        self.limiter.check_key(&ip).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            wait.as_secs() as i64 + 1
        })
    }

    /// Forgets addresses that are back to a full allowance (called periodically to bound memory).
    pub fn shrink(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

pub async fn limit_by_ip(State(limiter): State<IpRateLimiter>, request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let forwarded_for = request.headers().get("x-forwarded-for").and_then(|v| v.to_str().ok());
    let ip = limiter.client_ip(peer, forwarded_for);
    match limiter.check(ip) {
        Ok(()) => next.run(request).await,
        Err(retry_after_seconds) => {
            metrics::counter!("dinhdanh_rate_limited_total").increment(1);
            ApiError::TooManyRequests { retry_after_seconds }.into_response()
        }
    }
}

/// Where a request comes from, for the per-source sign-in throttles: a pseudonym of the client address (as the
/// per-IP limits see it, behind the trusted proxies), the SHA-256 of the address, so that the database never holds
/// the address itself.
pub struct ClientSource(pub String);

impl axum::extract::FromRequestParts<crate::AppState> for ClientSource {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &crate::AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
            .unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let forwarded_for = parts.headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
        let ip = state.public_limiter.client_ip(peer, forwarded_for);
        Ok(ClientSource(crate::secrets::token_hash(&ip.to_string())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_counts_only_from_trusted_proxies() {
        let limit = RateLimit { per_minute: 1, burst: 1 };
        let plain = IpRateLimiter::new(limit, &[]);
        assert_eq!(
            plain.client_ip(ip("127.0.0.1"), Some("203.0.113.5")),
            ip("127.0.0.1"),
            "an untrusted peer's header is ignored"
        );
        let behind = IpRateLimiter::new(limit, &[ip("127.0.0.1"), ip("10.0.0.2")]);
        assert_eq!(behind.client_ip(ip("127.0.0.1"), Some("203.0.113.5")), ip("203.0.113.5"));
        // The client may forge the left part; the right-most untrusted hop is the one the proxies saw.
        assert_eq!(behind.client_ip(ip("127.0.0.1"), Some("1.2.3.4, 203.0.113.5, 10.0.0.2")), ip("203.0.113.5"));
        assert_eq!(behind.client_ip(ip("127.0.0.1"), None), ip("127.0.0.1"));
        assert_eq!(behind.client_ip(ip("198.51.100.7"), Some("203.0.113.5")), ip("198.51.100.7"));
    }
}
