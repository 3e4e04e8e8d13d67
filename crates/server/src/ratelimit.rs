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
}

impl IpRateLimiter {
    pub fn new(limit: RateLimit) -> Self {
        let per_minute = NonZeroU32::new(limit.per_minute.max(1)).expect("non-zero");
        let burst = NonZeroU32::new(limit.burst.max(1)).expect("non-zero");
        let quota = Quota::per_minute(per_minute).allow_burst(burst);
        Self { limiter: Arc::new(DefaultKeyedRateLimiter::keyed(quota)) }
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
    let ip = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    match limiter.check(ip) {
        Ok(()) => next.run(request).await,
        Err(retry_after_seconds) => {
            metrics::counter!("dinhdanh_rate_limited_total").increment(1);
            ApiError::TooManyRequests { retry_after_seconds }.into_response()
        }
    }
}
