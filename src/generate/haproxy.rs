//! haproxy.cfg for a load balancer.

use super::{Ctx, emit, paths};
use crate::model::{ComponentKind, Host, LoadBalancer};

pub(super) fn config(ctx: &Ctx, host: &Host, lb: &LoadBalancer) -> String {
    let t = ctx.topology;
    let me = &host.name;
    let mut o = ctx.header("#", &format!("{me}/lb"));
    let hc = lb.health_check;
    emit!(o, "global");
    emit!(o, "    log stdout format raw local0 notice");
    emit!(o, "    maxconn 4096");
    emit!(
        o,
        "    # The runtime API: topolab reads backend states and drains servers here."
    );
    emit!(
        o,
        "    # expose-fd listeners: on a reload (topolab apply) the new worker takes"
    );
    emit!(
        o,
        "    # the listening sockets over from the old one, so no connection is refused."
    );
    emit!(
        o,
        "    stats socket {} mode 600 level admin expose-fd listeners",
        paths::HAPROXY_SOCKET
    );
    emit!(
        o,
        "    # Stop within a second instead of waiting for idle connections."
    );
    emit!(o, "    hard-stop-after 1s");
    if t.security.tls {
        emit!(o, "    ssl-default-bind-options ssl-min-ver TLSv1.2");
    }
    emit!(o);
    if ctx.names.is_some() {
        emit!(
            o,
            "# Servers are names: a restarted pod comes back at a new address. HAProxy"
        );
        emit!(
            o,
            "# asks the cluster's DNS (the nameservers of /etc/resolv.conf) every second"
        );
        emit!(
            o,
            "# and follows the answer; a name that does not resolve leaves its server"
        );
        emit!(o, "# down until it does.");
        emit!(o, "resolvers cluster");
        emit!(o, "    parse-resolv-conf");
        emit!(o, "    resolve_retries 3");
        emit!(o, "    timeout resolve 1s");
        emit!(o, "    timeout retry 1s");
        emit!(o, "    hold valid 1s");
        emit!(o, "    hold other 1s");
        emit!(o, "    hold refused 1s");
        emit!(o, "    hold nx 1s");
        emit!(o, "    hold timeout 1s");
        emit!(o, "    hold obsolete 1s");
        emit!(o);
    }
    emit!(o, "defaults");
    emit!(o, "    mode http");
    emit!(o, "    log global");
    emit!(o, "    option httplog");
    emit!(o, "    option dontlognull");
    emit!(
        o,
        "    # On a reload the old worker answers the next request of each idle client"
    );
    emit!(
        o,
        "    # connection with `Connection: close` instead of closing it under the client."
    );
    emit!(o, "    option idle-close-on-response");
    emit!(o, "    timeout connect {}ms", lb.connect_timeout_ms);
    emit!(o, "    timeout client 30s");
    emit!(o, "    timeout server 30s");
    emit!(
        o,
        "    timeout check {}ms",
        hc.interval_ms.max(lb.connect_timeout_ms)
    );
    emit!(
        o,
        "    # A failed connection is retried {} time(s){}.",
        lb.retries,
        if lb.redispatch {
            ", the last one on another server"
        } else {
            " on the same server"
        }
    );
    emit!(o, "    retries {}", lb.retries);
    if lb.redispatch {
        emit!(o, "    option redispatch 1");
    }
    emit!(o);
    emit!(o, "frontend www");
    emit!(o, "    bind :{}", lb.port);
    if t.security.tls {
        emit!(o, "    bind :{} ssl crt {}", lb.tls_port, paths::TLS_CERT);
        emit!(
            o,
            "    http-request set-header X-Forwarded-Proto https if {{ ssl_fc }}"
        );
        emit!(
            o,
            "    http-response set-header Strict-Transport-Security \"max-age=300\" if {{ ssl_fc }}"
        );
    }
    emit!(
        o,
        "    # Path header: which load balancer handled the request."
    );
    emit!(o, "    http-response set-header X-Topolab-Lb {me}");
    if lb.vip.is_some() {
        super::vrrp::haproxy_lines(&mut o, host);
    }
    emit!(o, "    default_backend web");
    emit!(o);
    emit!(o, "backend web");
    emit!(o, "    balance {}", lb.algorithm.keyword());
    if lb.is_active_passive() {
        emit!(
            o,
            "    # Active-passive: backup servers get traffic only when no active server is UP."
        );
    } else {
        emit!(o, "    # Active-active: every server gets live traffic.");
    }
    emit!(
        o,
        "    # The check goes through Nginx to the app's /health, which answers 200"
    );
    emit!(
        o,
        "    # whatever the databases' state: a dead primary must not empty the pool."
    );
    emit!(o, "    option httpchk");
    emit!(
        o,
        "    http-check send meth GET uri /health ver HTTP/1.1 hdr Host {}",
        t.domain
    );
    emit!(o, "    http-check expect status 200");
    emit!(
        o,
        "    # Checks every {}ms; DOWN after {} failures, UP after {} successes. A",
        hc.interval_ms,
        hc.fall,
        hc.rise
    );
    emit!(
        o,
        "    # refused connection on live traffic marks the server DOWN at once."
    );
    emit!(
        o,
        "    default-server check inter {}ms fastinter {}ms downinter {}ms fall {} rise {} observe layer4 error-limit 1 on-error mark-down",
        hc.interval_ms,
        (hc.interval_ms / 2).max(10),
        hc.interval_ms.saturating_mul(2),
        hc.fall,
        hc.rise
    );
    for b in &lb.backends {
        let Some(target) = t.host(&b.host) else {
            continue;
        };
        let Some(web) = target.web_server() else {
            continue;
        };
        let Some(addr) = ctx.endpoint(&b.host, ComponentKind::Nginx) else {
            continue;
        };
        let backup = if b.backup { " backup" } else { "" };
        let resolve = if ctx.names.is_some() {
            " resolvers cluster init-addr last,libc,none resolve-prefer ipv4"
        } else {
            ""
        };
        emit!(
            o,
            "    server {} {addr}:{} weight {}{backup}{resolve}",
            b.host,
            web.port,
            b.weight
        );
    }
    if lb.stats || t.monitoring.enabled {
        emit!(o);
        emit!(o, "frontend stats");
        emit!(o, "    bind :{}", lb.stats_port);
        emit!(o, "    # Prometheus metrics, built into HAProxy.");
        emit!(
            o,
            "    http-request use-service prometheus-exporter if {{ path /metrics }}"
        );
        if lb.stats {
            emit!(o, "    stats enable");
            emit!(o, "    stats uri /stats");
            emit!(o, "    stats refresh 2s");
            emit!(
                o,
                "    # The password comes from a secret file that the start command reads, never from this file."
            );
            emit!(o, "    stats auth \"admin:${{TOPOLAB_STATS_PASSWORD}}\"");
        }
    }
    o
}
