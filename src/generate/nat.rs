//! The forwarder of the virtual IPs' published ports (`nat`): what a
//! site's edge does for its public address. A port on 127.0.0.1 cannot
//! follow an address from one container to another, so one container of
//! the lab's own sits on each virtual IP's network and forwards, at the
//! TCP level, every connection of a virtual IP's published port to the
//! address itself: whichever load balancer holds it answers.
//!
//! It runs HAProxy in TCP mode (the load balancers' image): no HTTP is
//! parsed, so the load balancers see the requests as sent.

use super::{Ctx, emit};
use crate::model::VipPort;

/// Inside the forwarder, a virtual IP's HTTP is taken on this port + its
/// number (`.220` on 10220), its HTTPS on [`HTTPS_BASE`] + its number.
pub const HTTP_BASE: u16 = 10_000;
/// See [`HTTP_BASE`].
pub const HTTPS_BASE: u16 = 11_000;

/// Where the forwarder takes `vip`'s HTTP and, with TLS, HTTPS.
pub fn listens(vip: &VipPort) -> (u16, Option<u16>) {
    let n = u16::from(vip.number);
    (HTTP_BASE + n, vip.https.map(|_| HTTPS_BASE + n))
}

/// `nat/haproxy.cfg`: one TCP frontend per published port of each virtual
/// IP, each to the address.
pub(super) fn haproxy_cfg(ctx: &Ctx) -> String {
    let t = ctx.topology;
    let mut o = ctx.header("#", "nat/haproxy.cfg");
    emit!(
        o,
        "# The virtual IPs' published ports: each connection goes on to the address,"
    );
    emit!(o, "# so whichever load balancer holds it answers.");
    emit!(o, "global");
    emit!(o, "    maxconn 4096");
    emit!(o);
    emit!(o, "defaults");
    emit!(o, "    mode tcp");
    // While the address moves, a connection attempt may be refused or go
    // unanswered: it is tried again (HAProxy waits the connect timeout
    // between tries), for about a second, and the address answers from
    // its new holder. In the lab a connect takes well under a millisecond.
    emit!(o, "    timeout connect 100ms");
    emit!(o, "    retries 10");
    emit!(o, "    timeout client 60s");
    emit!(o, "    timeout server 60s");
    // Both in number order, one for one.
    for (port, vip) in crate::model::vip_published_ports(t)
        .into_iter()
        .zip(t.vips())
    {
        let Some(address) = ctx.plan.vip_address(t, &vip) else {
            continue;
        };
        let (http, https) = listens(&port);
        let mut pairs = vec![("http", http, port.http_target)];
        if let (Some(inside), Some(target)) = (https, port.https_target) {
            pairs.push(("https", inside, target));
        }
        for (scheme, inside, target) in pairs {
            let name = format!("vip-{}-{scheme}", vip.number);
            emit!(o);
            emit!(o, "listen {name}");
            emit!(o, "    bind :{inside}");
            emit!(
                o,
                "    server {} {address}:{target}",
                vip.label().replace(' ', "")
            );
        }
    }
    o
}

/// The `reach` forwarder's config: one TCP listener per database
/// (`(name, address, port, listen)`), each on to the database at its
/// address on the lab's network. A database that does
/// not answer is not waited for longer than a client would: the connect
/// timeout is long, so the client's own timeout says "did not answer", as
/// it does when it reaches the lab's network directly.
pub fn reach_cfg(databases: &[(String, std::net::Ipv4Addr, u16, u16)]) -> String {
    let mut o = String::new();
    emit!(
        o,
        "# topolab's way in to the databases of a lab on overlays:"
    );
    emit!(o, "# this machine has no leg on an overlay network.");
    emit!(o, "global");
    emit!(o, "    maxconn 256");
    emit!(o);
    emit!(o, "defaults");
    emit!(o, "    mode tcp");
    emit!(o, "    timeout connect 30s");
    emit!(o, "    timeout client 1h");
    emit!(o, "    timeout server 1h");
    for (name, address, port, listen) in databases {
        emit!(o);
        emit!(o, "listen {name}");
        emit!(o, "    bind :{listen}");
        emit!(o, "    server {name} {address}:{port}");
    }
    o
}

#[cfg(test)]
mod tests {
    use crate::generate::{Artifacts, Secrets, Settings, generate};
    use crate::model::Topology;
    use crate::preset::Preset;

    fn bundle(preset: &str) -> (Topology, Artifacts) {
        let t = Preset::find(preset)
            .and_then(|p| p.topology().ok())
            .expect("preset");
        let secrets = Secrets::generate(&t.domain).expect("secrets");
        let files = generate(&t, &Settings::for_topology(&t), &secrets).expect("valid");
        (t, files)
    }

    #[test]
    fn each_virtual_ip_is_forwarded_to_its_address() {
        let (t, files) = bundle("vip");
        let cfg = files.get("nat/haproxy.cfg").expect("nat config");
        let plan = crate::model::AddressPlan::new(&t, crate::model::DEFAULT_FIRST_SUBNET);
        let vip = &t.vips()[0];
        let address = plan.vip_address(&t, vip).expect("address");
        assert!(cfg.contains(&format!("bind :{}", 10_000 + u16::from(vip.number))));
        assert!(cfg.contains(&format!("{address}:{}", vip.port)), "{cfg}");
        // A design without a virtual IP has no forwarder.
        let (_, files) = bundle("reference");
        assert!(files.get("nat/haproxy.cfg").is_none());
    }
}
