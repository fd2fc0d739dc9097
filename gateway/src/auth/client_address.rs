//! The address a request comes from, for per-address limits. Behind a reverse proxy the TCP
//! peer is the proxy, so everyone would share one limit; `X-Forwarded-For` is believed only
//! when the peer is a configured trusted proxy, since anyone else can write it.

use std::{net::IpAddr, net::SocketAddr, sync::Arc};

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{HeaderMap, request::Parts},
};
use ipnet::IpNet;

use crate::{error::ApiError, startup::AppState};

/// The client's address: the TCP peer, or the forwarded one behind a trusted proxy.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub IpAddr);

impl FromRequestParts<Arc<AppState>> for ClientAddress {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
            .ok_or_else(|| anyhow::anyhow!("the server was started without connect info"))?;
        Ok(ClientAddress(client_address(
            peer,
            &parts.headers,
            &state.trusted_proxies,
        )))
    }
}

/// From a trusted peer, the rightmost `X-Forwarded-For` hop that is not itself a trusted
/// proxy (hops to its left were written by the client and prove nothing); if every hop is
/// trusted, the leftmost. A missing or unreadable header leaves the peer.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(&canonical(*ip)));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut hops = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let Ok(value) = value.to_str() else {
            return peer;
        };
        for hop in value.split(',') {
            match parse_hop(hop) {
                Some(ip) => hops.push(ip),
                None => return peer,
            }
        }
    }
    hops.iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .or(hops.first())
        .copied()
        .unwrap_or(peer)
}

/// One hop: an address, possibly with a port (`1.2.3.4:5678`, `[::1]:80`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .map(canonical)
}

/// An IPv4-mapped IPv6 address (`::ffff:1.2.3.4`, what a dual-stack socket reports) as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", value.parse().unwrap());
        }
        headers
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let headers = forwarded(&["203.0.113.7"]);
        assert_eq!(
            client_address(ip("198.51.100.1"), &headers, &nets(&["10.0.0.0/8"])),
            ip("198.51.100.1")
        );
        assert_eq!(
            client_address(ip("10.0.0.2"), &headers, &[]),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn behind_trusted_proxies_the_rightmost_untrusted_hop_is_the_client() {
        let trusted = nets(&["10.0.0.0/8"]);
        // The client claimed 1.1.1.1; the outer proxy saw 203.0.113.7; an inner proxy 10.0.0.3.
        let headers = forwarded(&["1.1.1.1, 203.0.113.7", "10.0.0.3"]);
        assert_eq!(
            client_address(ip("10.0.0.2"), &headers, &trusted),
            ip("203.0.113.7")
        );
        let all_trusted = forwarded(&["10.0.0.9, 10.0.0.3"]);
        assert_eq!(
            client_address(ip("10.0.0.2"), &all_trusted, &trusted),
            ip("10.0.0.9")
        );
        assert_eq!(
            client_address(
                ip("::ffff:10.0.0.2"),
                &forwarded(&["[2001:db8::1]:443"]),
                &trusted
            ),
            ip("2001:db8::1")
        );
    }

    #[test]
    fn a_missing_or_garbled_header_leaves_the_peer() {
        let trusted = nets(&["10.0.0.0/8"]);
        for headers in [forwarded(&[]), forwarded(&["203.0.113.7, not-an-address"])] {
            assert_eq!(
                client_address(ip("10.0.0.2"), &headers, &trusted),
                ip("10.0.0.2")
            );
        }
    }
}
