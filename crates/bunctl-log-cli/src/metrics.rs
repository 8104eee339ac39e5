//! `--metrics-addr`: the writers' metrics, served in Prometheus text format over HTTP.
//!
//! The library publishes each writer's counters and gauges through the `metrics` facade, from
//! the writer thread after every batch (see `bunctl_logging::metric_names`), but only
//! to a recorder installed before the writer is created: its handles are registered then.
//! [`serve`] installs the Prometheus recorder and its HTTP listener, so it must run first.

use std::net::SocketAddr;

use metrics_exporter_prometheus::PrometheusBuilder;

/// Installs the Prometheus recorder as the global `metrics` recorder and serves it on `addr`
/// (any path; `/metrics` by convention) from a task of the current tokio runtime, until the
/// process ends.
///
/// # Errors
/// If `addr` cannot be bound (in use, not an address of this machine) or a recorder is
/// already installed.
pub fn serve(addr: SocketAddr) -> Result<(), String> {
    PrometheusBuilder::new()
        .with_http_listener(addr)
        .install()
        .map_err(|e| format!("cannot serve metrics on {addr}: {e}"))
}

/// `--metrics-addr`'s value: an IP address and a port other than 0 (a port chosen by the
/// system would be one nobody knows).
pub fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    let addr: SocketAddr = s
        .parse()
        .map_err(|_| "use an IP address and a port, such as 127.0.0.1:9187 or [::1]:9187")?;
    if addr.port() == 0 {
        return Err("the port must not be 0 (nobody would know the port chosen)".into());
    }
    Ok(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(
            parse_addr("127.0.0.1:9187"),
            Ok(SocketAddr::from(([127, 0, 0, 1], 9187)))
        );
        assert!(parse_addr("[::1]:80").is_ok());
        for bad in [
            "127.0.0.1",
            "localhost:9187",
            "127.0.0.1:0",
            ":9187",
            "1.2.3.4:99999",
        ] {
            assert!(parse_addr(bad).is_err(), "{bad}");
        }
    }
}
