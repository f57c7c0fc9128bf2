//! docker-compose.yml, .env and README.md: the same lab without topolab.
//!
//! Each host is a holder service that owns the host's network namespace,
//! name and fixed addresses; the host's components join it
//! (`network_mode: service:HOST`), so Nginx reaches its app on 127.0.0.1.
//! Each service gets only the secrets it reads, as files (Compose's
//! `secrets:`), never through its environment.

use std::collections::BTreeSet;

use super::recipe::{self, Recipe, VolumeKind};
use super::{Ctx, Secret, emit};
use crate::model::{Host, HostName, HostSize, cpus_text};

/// The variable that overrides a published port of entry host `h`:
/// `TOPOLAB_HTTP_PORT_LB_01`. Host names have no `_`, so no two hosts (and
/// no host and Prometheus) share one.
fn port_var(scheme: &str, h: &HostName) -> String {
    format!(
        "TOPOLAB_{scheme}_PORT_{}",
        h.as_str().to_uppercase().replace('-', "_")
    )
}

/// The variable that overrides Prometheus's published port.
const PROMETHEUS_PORT_VAR: &str = "TOPOLAB_PROMETHEUS_PORT";

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A service's command. `$` is doubled: Compose would otherwise fill it in
/// from its own environment; the shell inside the container does.
fn command(o: &mut String, args: &[String]) {
    let args: Vec<String> = args.iter().map(|a| quote(&a.replace('$', "$$"))).collect();
    emit!(o, "    command: [{}]", args.join(", "));
}

/// A service's secrets, each mounted where the lab puts it.
fn secrets(o: &mut String, list: &[Secret], used: &mut BTreeSet<Secret>) {
    if list.is_empty() {
        return;
    }
    emit!(o, "    secrets:");
    for s in list {
        used.insert(*s);
        emit!(o, "      - source: {}", s.name());
        emit!(o, "        target: {}", s.path());
    }
}

fn labels(o: &mut String, ctx: &Ctx, host: &HostName, component: &str) {
    emit!(o, "    labels:");
    emit!(o, "      topolab.lab: {}", quote(&ctx.settings.lab));
    emit!(o, "      topolab.host: {}", quote(host.as_str()));
    emit!(o, "      topolab.component: {}", quote(component));
}

/// The service of a container that joins `h`'s namespace, from its recipe.
fn joined_service(o: &mut String, ctx: &Ctx, host: &Host, r: &Recipe, used: &mut BTreeSet<Secret>) {
    let h = &host.name;
    emit!(o, "  {h}-{}:", r.part.label());
    emit!(o, "    image: ${{{}}}", r.image.env_var());
    emit!(o, "    init: true");
    limits(o, host.size);
    emit!(o, "    network_mode: \"service:{h}\"");
    emit!(o, "    depends_on: [{h}]");
    if !r.capabilities.is_empty() {
        emit!(o, "    cap_add: [{}]", r.capabilities.join(", "));
    }
    labels(o, ctx, h, r.part.label());
    command(o, &r.command);
    secrets(o, &r.secrets, used);
    volumes(o, r, h);
}

/// A container's CPU and memory limits: its host's size.
fn limits(o: &mut String, size: HostSize) {
    emit!(o, "    cpus: {}", cpus_text(size.cpus));
    emit!(o, "    mem_limit: {}m", size.memory_mib);
    emit!(o, "    memswap_limit: {}m", size.memory_mib);
}

/// A recipe's files (read-only bind mounts) and its host's volume.
fn volumes(o: &mut String, r: &Recipe, host: &HostName) {
    if r.files.is_empty() && r.volume.is_none() {
        return;
    }
    emit!(o, "    volumes:");
    // The volume first: the release files are mounted inside it.
    if let Some(v) = r.volume {
        emit!(o, "      - {}:{}", volume_name(host, v.kind), v.path);
    }
    for f in &r.files {
        emit!(o, "      - ./{}:{}:ro", f.artifact, f.path);
    }
}

/// A host's volume in docker-compose.yml.
fn volume_name(host: &HostName, kind: VolumeKind) -> String {
    match kind {
        VolumeKind::Data => format!("{host}-db-data"),
        VolumeKind::AppFiles => format!("{host}-{}", kind.suffix()),
    }
}

pub(super) fn compose(ctx: &Ctx) -> String {
    let t = ctx.topology;
    let mut o = ctx.header("#", "docker-compose");
    emit!(
        o,
        "# Start: docker-compose up -d   Stop and remove: docker-compose down -v"
    );
    emit!(
        o,
        "# Images and ports come from .env beside this file; secrets from secrets/."
    );
    emit!(o, "version: \"2.4\"");
    emit!(o);
    emit!(o, "services:");
    let published = crate::model::published_ports(t);
    let dns_ports = crate::model::dns_published_ports(t);
    let mut used = BTreeSet::new();
    for host in &t.hosts {
        let h = &host.name;
        emit!(
            o,
            "  # Host {h}: owns the network namespace its components share."
        );
        let holder = recipe::holder(&ctx.plan, h);
        emit!(
            o,
            "  # Size: {}. The lab nests the host's containers in one cgroup so that",
            host.size
        );
        emit!(
            o,
            "  # they share it; compose cannot, so here each one is capped at it."
        );
        emit!(o, "  {h}:");
        emit!(o, "    image: ${{{}}}", holder.image.env_var());
        emit!(o, "    init: true");
        limits(&mut o, host.size);
        if !holder.capabilities.is_empty() {
            emit!(o, "    cap_add: [{}]", holder.capabilities.join(", "));
        }
        command(&mut o, &holder.command);
        emit!(o, "    hostname: {h}");
        emit!(o, "    networks:");
        for (net, addr) in ctx.plan.host_addresses(h) {
            emit!(o, "      {}:", net.name());
            emit!(o, "        ipv4_address: {addr}");
        }
        if let Some(p) = published.iter().find(|p| p.host == *h) {
            emit!(o, "    ports:");
            emit!(
                o,
                "      - \"127.0.0.1:${{{}:-{}}}:{}\"",
                port_var("HTTP", h),
                p.http,
                p.http_target
            );
            if let (Some(https), Some(target)) = (p.https, p.https_target) {
                emit!(
                    o,
                    "      - \"127.0.0.1:${{{}:-{https}}}:{target}\"",
                    port_var("HTTPS", h),
                );
            }
        }
        if let Some((_, port, target)) = dns_ports.iter().find(|(d, _, _)| d == h) {
            emit!(o, "    ports:");
            for proto in ["udp", "tcp"] {
                emit!(
                    o,
                    "      - \"127.0.0.1:${{{}:-{port}}}:{target}/{proto}\"",
                    port_var("DNS", h),
                );
            }
        }
        labels(&mut o, ctx, h, "holder");
        for r in recipe::of_host(t, &ctx.plan, host) {
            joined_service(&mut o, ctx, host, &r, &mut used);
        }
    }
    if t.monitoring.enabled {
        emit!(
            o,
            "  # Prometheus, on every network, scraping HAProxy and each database's exporter."
        );
        let r = recipe::monitoring();
        emit!(o, "  monitoring:");
        emit!(o, "    image: ${{{}}}", r.image.env_var());
        emit!(o, "    init: true");
        command(&mut o, &r.command);
        emit!(o, "    networks:");
        for net in ctx.plan.networks() {
            emit!(o, "      - {}", net.name());
        }
        emit!(o, "    ports:");
        emit!(
            o,
            "      - \"127.0.0.1:${{{PROMETHEUS_PORT_VAR}:-{}}}:9090\"",
            crate::model::prometheus_port(t).unwrap_or(crate::model::PROMETHEUS_PORT)
        );
        volumes(&mut o, &r, &HostName::new("monitoring"));
        labels(&mut o, ctx, &HostName::new("monitoring"), "monitoring");
    }
    if ctx.plan.spans_regions() {
        emit!(
            o,
            "  # The WAN: joins the regions' networks and forwards between them, {} ms",
            t.wan.latency_ms
        );
        emit!(
            o,
            "  # added to each round trip where the kernel has netem. Each host routes"
        );
        emit!(o, "  # the other regions' subnets through it.");
        let r = recipe::router(t);
        emit!(o, "  {}:", r.part.label());
        emit!(o, "    image: ${{{}}}", r.image.env_var());
        emit!(o, "    init: true");
        emit!(o, "    cap_add: [{}]", r.capabilities.join(", "));
        emit!(o, "    sysctls:");
        for (key, value) in r.part.sysctls() {
            emit!(o, "      {key}: {}", quote(value));
        }
        command(&mut o, &r.command);
        emit!(o, "    networks:");
        for net in ctx.plan.networks() {
            if let Some(addr) = ctx.plan.router(net) {
                emit!(o, "      {}:", net.name());
                emit!(o, "        ipv4_address: {addr}");
            }
        }
        labels(&mut o, ctx, &HostName::new(r.part.label()), r.part.label());
    }
    nat_service(&mut o, ctx);
    emit!(o);
    emit!(o, "networks:");
    for net in ctx.plan.networks() {
        emit!(o, "  {}:", net.name());
        emit!(o, "    ipam:");
        emit!(o, "      config:");
        if let Some(cidr) = ctx.plan.cidr(net) {
            emit!(o, "        - subnet: {cidr}");
        }
        emit!(o, "    labels:");
        emit!(o, "      topolab.lab: {}", quote(&ctx.settings.lab));
    }
    if !used.is_empty() {
        emit!(o);
        emit!(
            o,
            "# One file per secret, readable by its owner only; each service mounts"
        );
        emit!(o, "# only those it reads.");
        emit!(o, "secrets:");
        for s in &used {
            emit!(o, "  {}:", s.name());
            emit!(o, "    file: ./secrets/{}", s.name());
        }
    }
    let named: BTreeSet<String> = t
        .hosts
        .iter()
        .flat_map(|h| {
            h.components
                .iter()
                .filter_map(|c| recipe::component(t, h, c).volume)
                .map(|v| volume_name(&h.name, v.kind))
        })
        .collect();
    if !named.is_empty() {
        emit!(o);
        emit!(o, "volumes:");
        for v in named {
            emit!(o, "  {v}:");
            emit!(o, "    labels:");
            emit!(o, "      topolab.lab: {}", quote(&ctx.settings.lab));
        }
    }
    o
}

/// The variable that overrides a virtual IP's published port:
/// `TOPOLAB_VIP_220_HTTP_PORT`.
fn vip_port_var(number: u8, scheme: &str) -> String {
    format!("TOPOLAB_VIP_{number}_{scheme}_PORT")
}

/// The forwarder of the virtual IPs' published ports, on each virtual IP's
/// network (see [`super::nat`]).
fn nat_service(o: &mut String, ctx: &Ctx) {
    let t = ctx.topology;
    let ports = crate::model::vip_published_ports(t);
    if ports.is_empty() {
        return;
    }
    emit!(
        o,
        "  # The virtual IPs' published ports: each connection goes on to the address,"
    );
    emit!(o, "  # so whichever load balancer holds it answers.");
    let r = recipe::nat();
    let host = HostName::new(r.part.label());
    emit!(o, "  {}:", r.part.label());
    emit!(o, "    image: ${{{}}}", r.image.env_var());
    emit!(o, "    init: true");
    command(o, &r.command);
    emit!(o, "    networks:");
    let mut joined = Vec::new();
    for vip in t.vips() {
        if let Some(net) = ctx.plan.vip_network(t, &vip)
            && !joined.contains(net)
            && let Some(addr) = ctx.plan.on(net, crate::model::NAT_NUMBER)
        {
            emit!(o, "      {}:", net.name());
            emit!(o, "        ipv4_address: {addr}");
            joined.push(net.clone());
        }
    }
    emit!(o, "    ports:");
    for p in &ports {
        let (http, https) = super::nat::listens(p);
        emit!(
            o,
            "      - \"127.0.0.1:${{{}:-{}}}:{http}\"",
            vip_port_var(p.number, "HTTP"),
            p.http
        );
        if let (Some(outside), Some(inside)) = (p.https, https) {
            emit!(
                o,
                "      - \"127.0.0.1:${{{}:-{outside}}}:{inside}\"",
                vip_port_var(p.number, "HTTPS"),
            );
        }
    }
    volumes(o, &r, &host);
    labels(o, ctx, &host, r.part.label());
}

pub(super) fn env_file(ctx: &Ctx) -> String {
    let images = &ctx.settings.images;
    let mut o = ctx.header("#", ".env");
    emit!(
        o,
        "# Images and the compose project. The lab's secrets are in secrets/."
    );
    emit!(o, "COMPOSE_PROJECT_NAME=topolab-{}", ctx.settings.lab);
    for (name, image) in [
        ("TOPOLAB_HOLDER_IMAGE", &images.holder),
        ("TOPOLAB_LB_IMAGE", &images.lb),
        ("TOPOLAB_WEB_IMAGE", &images.web),
        ("TOPOLAB_APP_IMAGE", &images.app),
        ("TOPOLAB_DB_IMAGE", &images.db),
        ("TOPOLAB_MONITORING_IMAGE", &images.monitoring),
    ] {
        emit!(o, "{name}={image}");
    }
    if ctx.topology.dns_servers().next().is_some() {
        emit!(o, "TOPOLAB_DNS_IMAGE={}", images.dns);
    }
    o
}

pub(super) fn readme(ctx: &Ctx) -> String {
    let t = ctx.topology;
    let mut o = format!("# {} — generated by topolab\n\n", t.name);
    if !t.description.is_empty() {
        emit!(o, "{}\n", t.description);
    }
    emit!(
        o,
        "This folder runs the lab without topolab, with Docker Compose.\n"
    );
    emit!(o, "## Run it\n");
    emit!(
        o,
        "The images named in `.env` must exist: `topolab images build` makes them on"
    );
    emit!(o, "a machine without a registry (the `local` profile).\n");
    emit!(o, "```sh");
    emit!(o, "docker-compose up -d");
    for p in crate::model::published_ports(t) {
        emit!(
            o,
            "curl -i http://127.0.0.1:{}/     # through {}",
            p.http,
            p.host
        );
    }
    for p in crate::model::vip_published_ports(t) {
        emit!(
            o,
            "curl -i http://127.0.0.1:{}/     # through vip .{}, whichever load balancer holds it",
            p.http,
            p.number
        );
    }
    for (host, port, _) in crate::model::dns_published_ports(t) {
        emit!(
            o,
            "dig @127.0.0.1 -p {port} {}   # asked of {host}",
            t.domain
        );
    }
    emit!(
        o,
        "docker-compose down -v   # stop and remove everything, data included"
    );
    emit!(o, "```\n");
    emit!(
        o,
        "Ports are published on 127.0.0.1 only; change them in `.env`"
    );
    emit!(
        o,
        "(`TOPOLAB_HTTP_PORT_...`). `secrets/` holds this lab's random passwords, one file"
    );
    emit!(
        o,
        "each, readable by you only; each service mounts only those it reads.\n"
    );
    if t.dns_servers().next().is_some() {
        emit!(
            o,
            "The DNS servers' ports (UDP and TCP) change the same way (`TOPOLAB_DNS_PORT_...`).\n"
        );
    }
    if !t.vips().is_empty() {
        emit!(
            o,
            "A virtual IP's port is published by the `nat` service, which forwards it to the"
        );
        emit!(
            o,
            "address, so it follows the address (`TOPOLAB_VIP_<number>_HTTP_PORT`).\n"
        );
    }
    emit!(o, "## Files\n");
    emit!(
        o,
        "- `docker-compose.yml`: one holder service per host owns the host's network"
    );
    emit!(
        o,
        "  namespace and fixed addresses; the host's programs join it."
    );
    for host in &t.hosts {
        let kinds: Vec<&str> = host.components.iter().map(|c| c.kind().as_str()).collect();
        emit!(
            o,
            "- `{}/`: configs of {} ({}).",
            host.name,
            host.name,
            kinds.join(", ")
        );
    }
    if t.monitoring.enabled {
        emit!(
            o,
            "- `monitoring/`: Prometheus's scrape config and alert rules."
        );
    }
    emit!(o, "- `.env`: images and the compose project name.");
    emit!(
        o,
        "- `secrets/`: the lab's passwords, admin token and TLS key (keep private)."
    );
    o
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use crate::generate::{Secrets, Settings, generate};
    use crate::preset::Preset;

    /// Each service of a compose file and the secrets it mounts.
    fn secrets_per_service(compose: &str) -> BTreeMap<String, Vec<String>> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut service = None;
        for line in compose.lines() {
            if line == "networks:" || line == "secrets:" || line == "volumes:" {
                service = None;
            } else if let Some(name) = line.strip_prefix("  ").and_then(|l| l.strip_suffix(':'))
                && !name.starts_with(' ')
            {
                service = Some(name.to_owned());
                out.entry(name.to_owned()).or_default();
            } else if let (Some(s), Some(secret)) =
                (&service, line.trim().strip_prefix("- source: "))
            {
                out.entry(s.clone()).or_default().push(secret.to_owned());
            }
        }
        out
    }

    #[test]
    fn every_service_gets_only_the_secrets_it_reads_and_no_environment() {
        let t = Preset::find("secured-monitored")
            .and_then(|p| p.topology().ok())
            .expect("preset");
        let secrets = Secrets::generate(&t.domain).expect("secrets");
        let files = generate(&t, &Settings::for_topology(&t), &secrets).expect("valid");
        let compose = files.get("docker-compose.yml").expect("compose");
        assert!(!compose.contains("env_file"), "{compose}");
        assert!(!compose.contains("environment:"), "{compose}");
        let per = secrets_per_service(compose);
        let db = [
            "db_root_password",
            "app_password",
            "replication_password",
            "monitor_password",
        ];
        assert_eq!(per["web-01-db"], db);
        assert_eq!(per["web-01-app"], ["app_password", "admin_token"]);
        assert_eq!(per["web-01-exporter"], ["monitor_password"]);
        assert_eq!(per["lb-01-lb"], ["stats_password", "tls_key"]);
        for service in ["web-01-nginx", "web-01", "lb-01", "monitoring"] {
            assert!(per[service].is_empty(), "{service}: {:?}", per[service]);
        }
        // The values are in secrets/ only.
        let env = files.get(".env").expect(".env");
        for (secret, value) in secrets.all() {
            assert!(!env.contains(value), ".env holds {}", secret.name());
            assert!(!compose.contains(value));
            assert_eq!(
                files.get(&format!("secrets/{}", secret.name())),
                Some(value)
            );
        }
    }
}
