//! The client a per-source count is kept for (link mails, foundings, failed sign-ins):
//! the address API Gateway saw, grouped as one subscriber's network is.

/// An IPv6 client's /48, for the looser count beside its /64's; None for IPv4.
pub fn network(source: Option<&str>) -> Option<String> {
    match source?.parse::<std::net::IpAddr>().ok()? {
        std::net::IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            Some(format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2]))
        }
        _ => None,
    }
}

/// The client a per-source count is kept for: an IPv4 address, or an IPv6 address's /64
/// (one subscriber's network: anyone on it may use any of its 2^64 addresses, so a count
/// per address would be a count per request). "unknown" when no address is known.
pub fn bucket(source: Option<&str>) -> String {
    match source.map(str::parse::<std::net::IpAddr>) {
        Some(Ok(std::net::IpAddr::V6(v6))) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Some(Ok(std::net::IpAddr::V6(v6))) => v6.to_canonical().to_string(),
        Some(Ok(ip)) => ip.to_string(),
        Some(Err(_)) | None => "unknown".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::{bucket, network};

    #[test]
    fn an_ipv6_client_is_counted_by_its_64_and_an_ipv4_one_by_its_address() {
        let a = bucket(Some("2001:db8:1:2:aaaa::1"));
        assert_eq!(a, "2001:db8:1:2::/64");
        assert_eq!(bucket(Some("2001:db8:1:2:ffff:1:2:3")), a, "same network");
        assert_ne!(bucket(Some("2001:db8:1:3::1")), a, "the next /64");
        assert_eq!(bucket(Some("203.0.113.7")), "203.0.113.7");
        assert_eq!(
            bucket(Some("::ffff:203.0.113.7")),
            "203.0.113.7",
            "v4-mapped"
        );
        assert_eq!(bucket(None), "unknown");
        assert_eq!(bucket(Some("not an address")), "unknown");
        assert_eq!(
            network(Some("2001:db8:1:2::1")).as_deref(),
            Some("2001:db8:1::/48")
        );
        assert_eq!(
            network(Some("2001:db8:1:ff::1")),
            network(Some("2001:db8:1:2::1"))
        );
        assert_eq!(network(Some("203.0.113.7")), None);
        assert_eq!(network(Some("::ffff:203.0.113.7")), None);
    }
}
