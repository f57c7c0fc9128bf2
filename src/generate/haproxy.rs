//! haproxy.cfg for a load balancer.

use super::{Ctx, line, paths};
use crate::model::{ComponentKind, Host, LoadBalancer};

pub(super) fn config(ctx: &Ctx, host: &Host, lb: &LoadBalancer) -> String {
    let t = ctx.topology;
    let me = &host.name;
    let mut o = ctx.header("#", &format!("{me}/lb"));
    let hc = lb.health_check;
    line!(o, "global");
    line!(o, "    log stdout format raw local0 notice");
    line!(o, "    maxconn 4096");
    line!(
        o,
        "    # The runtime API: topolab reads backend states and drains servers here."
    );
    line!(
        o,
        "    stats socket {} mode 600 level admin",
        paths::HAPROXY_SOCKET
    );
    line!(
        o,
        "    # Stop within a second instead of waiting for idle connections."
    );
    line!(o, "    hard-stop-after 1s");
    if t.security.tls {
        line!(o, "    ssl-default-bind-options ssl-min-ver TLSv1.2");
    }
    line!(o);
    line!(o, "defaults");
    line!(o, "    mode http");
    line!(o, "    log global");
    line!(o, "    option httplog");
    line!(o, "    option dontlognull");
    line!(o, "    timeout connect {}ms", lb.connect_timeout_ms);
    line!(o, "    timeout client 30s");
    line!(o, "    timeout server 30s");
    line!(
        o,
        "    timeout check {}ms",
        hc.interval_ms.max(lb.connect_timeout_ms)
    );
    line!(
        o,
        "    # A failed connection is retried {} time(s){}.",
        lb.retries,
        if lb.redispatch {
            ", the last one on another server"
        } else {
            " on the same server"
        }
    );
    line!(o, "    retries {}", lb.retries);
    if lb.redispatch {
        line!(o, "    option redispatch 1");
    }
    line!(o);
    line!(o, "frontend www");
    line!(o, "    bind :{}", lb.port);
    if t.security.tls {
        line!(o, "    bind :{} ssl crt {}", lb.tls_port, paths::TLS_CERT);
        line!(
            o,
            "    http-request set-header X-Forwarded-Proto https if {{ ssl_fc }}"
        );
        line!(
            o,
            "    http-response set-header Strict-Transport-Security \"max-age=300\" if {{ ssl_fc }}"
        );
    }
    line!(
        o,
        "    # Path header: which load balancer handled the request."
    );
    line!(o, "    http-response set-header X-Topolab-Lb {me}");
    line!(o, "    default_backend web");
    line!(o);
    line!(o, "backend web");
    line!(o, "    balance {}", lb.algorithm.keyword());
    if lb.is_active_passive() {
        line!(
            o,
            "    # Active-passive: backup servers get traffic only when no active server is UP."
        );
    } else {
        line!(o, "    # Active-active: every server gets live traffic.");
    }
    line!(
        o,
        "    # The check goes through Nginx to the app's /health, which answers 200"
    );
    line!(
        o,
        "    # whatever the databases' state: a dead primary must not empty the pool."
    );
    line!(o, "    option httpchk");
    line!(
        o,
        "    http-check send meth GET uri /health ver HTTP/1.1 hdr Host {}",
        t.domain
    );
    line!(o, "    http-check expect status 200");
    line!(
        o,
        "    # Checks every {}ms; DOWN after {} failures, UP after {} successes. A",
        hc.interval_ms,
        hc.fall,
        hc.rise
    );
    line!(
        o,
        "    # refused connection on live traffic marks the server DOWN at once."
    );
    line!(
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
        let Some(addr) = ctx.address(&b.host, ComponentKind::Nginx) else {
            continue;
        };
        let backup = if b.backup { " backup" } else { "" };
        line!(
            o,
            "    server {} {addr}:{} weight {}{backup}",
            b.host,
            web.port,
            b.weight
        );
    }
    if lb.stats || t.monitoring.enabled {
        line!(o);
        line!(o, "frontend stats");
        line!(o, "    bind :{}", lb.stats_port);
        line!(o, "    # Prometheus metrics, built into HAProxy.");
        line!(
            o,
            "    http-request use-service prometheus-exporter if {{ path /metrics }}"
        );
        if lb.stats {
            line!(o, "    stats enable");
            line!(o, "    stats uri /stats");
            line!(o, "    stats refresh 2s");
            line!(
                o,
                "    # The password comes from a secret file that the start command reads, never from this file."
            );
            line!(o, "    stats auth \"admin:${{TOPOLAB_STATS_PASSWORD}}\"");
        }
    }
    o
}
