//! A DNS server's files: PowerDNS's settings (`pdns.conf`), its BIND
//! backend's list of zones (`named.conf`) and the site's zone file. Every
//! DNS server of a topology serves the same zone: the site's name answers
//! with the entry points' addresses, plain `A` records or, when the design
//! asks for health-checked records, one `LUA` record whose `ifportup`
//! PowerDNS evaluates itself (it checks each address in the background and
//! answers with those that accept a connection).

use std::net::Ipv4Addr;

use super::{Ctx, emit, paths};
pub use crate::model::zone_of;
use crate::model::{ClientEntry, ComponentKind, DnsServer, Host, HostName, Topology};

/// How often PowerDNS checks the addresses of a health-checked record, in
/// seconds (its default is 5).
pub const HEALTH_CHECK_INTERVAL_S: u32 = 1;
/// How long one check may take to connect, in seconds: an address whose
/// host is gone does not refuse, it never answers.
pub const HEALTH_CHECK_TIMEOUT_S: u32 = 1;

/// Each entry point of `topology` and its address for clients, in
/// topology order: a load balancer's (or, without one, a web server's)
/// address on its serving network, or, for load balancers sharing a
/// virtual IP, that address once (named like `vip .220 (lb-01, lb-02)`).
pub(super) fn entry_addresses(ctx: &Ctx) -> Vec<(String, Ipv4Addr, u16)> {
    let t = ctx.topology;
    let mut out = Vec::new();
    for entry in t.client_entries() {
        let address = match &entry {
            ClientEntry::Host { host, kind, .. } => ctx.address(&host.name, *kind),
            ClientEntry::Vip(vip) => ctx.plan.vip_address(t, vip),
        };
        if let Some(address) = address {
            out.push((entry.label(), address, entry.port()));
        }
    }
    out
}

/// `pdns.conf`: the BIND backend reading the zone, LUA records on.
pub(super) fn pdns_conf(ctx: &Ctx, host: &Host, dns: &DnsServer) -> String {
    let mut o = ctx.header("#", &format!("{}/dns", host.name));
    emit!(
        o,
        "# PowerDNS, authoritative only: it answers for its zone and nothing else."
    );
    emit!(o, "launch=bind");
    emit!(o, "bind-config={}/named.conf", paths::CONFIG_DIR);
    emit!(
        o,
        "# Never re-read the zone file: it changes only with the design."
    );
    emit!(o, "bind-check-interval=0");
    emit!(o, "local-address=0.0.0.0");
    emit!(o, "local-port={}", dns.port);
    emit!(o, "# In the foreground, as the container's one process.");
    emit!(o, "daemon=no");
    emit!(o, "guardian=no");
    emit!(o, "disable-syslog=yes");
    emit!(o, "loglevel=4");
    emit!(o, "socket-dir=/run");
    emit!(
        o,
        "# The answers of a LUA record change with its checks: cache none of them."
    );
    emit!(o, "cache-ttl=0");
    emit!(o, "negquery-cache-ttl=0");
    emit!(o, "query-cache-ttl=0");
    emit!(o, "enable-lua-records=yes");
    emit!(
        o,
        "# ifportup checks every address of a health-checked record this often."
    );
    emit!(o, "lua-health-checks-interval={HEALTH_CHECK_INTERVAL_S}");
    o
}

/// `named.conf`: the one zone, for the BIND backend.
pub(super) fn named_conf(ctx: &Ctx, host: &Host) -> String {
    let (zone, _) = zone_of(&ctx.topology.domain);
    let mut o = ctx.header("//", &format!("{}/dns", host.name));
    emit!(
        o,
        "zone \"{zone}\" {{ type master; file \"{}/zone\"; }};",
        paths::CONFIG_DIR
    );
    o
}

/// The zone file: its SOA and name servers (every DNS server of the
/// topology, by host name), and the site's name.
pub(super) fn zone_file(ctx: &Ctx, host: &Host) -> String {
    let t: &Topology = ctx.topology;
    let (zone, label) = zone_of(&t.domain);
    let ttl = t.dns.ttl_s;
    let servers: Vec<(&HostName, Ipv4Addr)> = t
        .dns_servers()
        .filter_map(|(h, _)| Some((&h.name, ctx.address(&h.name, ComponentKind::Dns)?)))
        .collect();
    let mut o = ctx.header(";", &format!("{}/dns", host.name));
    emit!(o, "$ORIGIN {zone}.");
    emit!(
        o,
        "; Clients keep an answer {ttl} s (the design's dns.ttl_s), a \"no such name\" too."
    );
    emit!(o, "$TTL {ttl}");
    let primary = servers
        .first()
        .map_or_else(|| host.name.to_string(), |(h, _)| h.to_string());
    emit!(
        o,
        "@ IN SOA {primary}.{zone}. hostmaster.{zone}. 1 3600 600 86400 {ttl}"
    );
    for (h, _) in &servers {
        emit!(o, "@ IN NS {h}.{zone}.");
    }
    for (h, addr) in &servers {
        emit!(o, "{h} IN A {addr}");
    }
    let entries = entry_addresses(ctx);
    if t.dns.health_checked {
        let port = entries.first().map_or(80, |(_, _, p)| *p);
        let list = entries
            .iter()
            .map(|(_, a, _)| format!("'{a}'"))
            .collect::<Vec<_>>()
            .join(", ");
        emit!(
            o,
            "; Health-checked: PowerDNS connects to port {port} of each entry point every {HEALTH_CHECK_INTERVAL_S} s"
        );
        emit!(
            o,
            "; and answers with those that accept; when none does, with all of them."
        );
        for (h, a, _) in &entries {
            emit!(o, ";   {a} is {h}");
        }
        emit!(
            o,
            "{label} IN LUA A \"ifportup({port}, {{{list}}}, {{selector='all', backupSelector='all', timeout={HEALTH_CHECK_TIMEOUT_S}}})\""
        );
    } else {
        emit!(
            o,
            "; Plain records: they name every entry point, up or down."
        );
        for (h, a, _) in &entries {
            emit!(o, "{label} IN A {a} ; {h}");
        }
    }
    o
}
