//! Prometheus's scrape config and alert rules, when monitoring is enabled.

use super::{Ctx, line};
use crate::model::ComponentKind;

pub(super) fn prometheus(ctx: &Ctx) -> String {
    let t = ctx.topology;
    let mut o = ctx.header("#", "Prometheus");
    line!(o, "global:");
    line!(o, "  scrape_interval: 5s");
    line!(o, "  evaluation_interval: 5s");
    line!(o, "rule_files:");
    line!(o, "  - /etc/topolab/alerts.yml");
    line!(o, "scrape_configs:");
    line!(o, "  - job_name: haproxy");
    line!(o, "    static_configs:");
    for (h, lb) in t.load_balancers() {
        if let Some(addr) = ctx.address(&h.name, ComponentKind::Lb) {
            line!(o, "      - targets: [\"{addr}:{}\"]", lb.stats_port);
            line!(o, "        labels: {{ host: \"{}\" }}", h.name);
        }
    }
    line!(o, "  - job_name: mysql");
    line!(o, "    static_configs:");
    for (h, _) in t.databases() {
        if let Some(addr) = ctx.address(&h.name, ComponentKind::Db) {
            line!(
                o,
                "      - targets: [\"{addr}:{}\"]",
                crate::model::EXPORTER_PORT
            );
            line!(o, "        labels: {{ host: \"{}\" }}", h.name);
        }
    }
    o
}

pub(super) fn alerts(ctx: &Ctx) -> String {
    let mut o = ctx.header("#", "Prometheus alert rules");
    line!(o, "groups:");
    line!(o, "  - name: topolab");
    line!(o, "    rules:");
    line!(o, "      - alert: BackendServerDown");
    line!(
        o,
        "        expr: haproxy_server_status{{state=\"UP\"}} == 0"
    );
    line!(o, "        for: 5s");
    line!(o, "        annotations:");
    line!(
        o,
        "          summary: \"{{{{ $labels.proxy }}}}/{{{{ $labels.server }}}} is not UP\""
    );
    line!(o, "      - alert: ReplicationStopped");
    line!(
        o,
        "        expr: mysql_slave_status_slave_io_running == 0 or mysql_slave_status_slave_sql_running == 0"
    );
    line!(o, "        for: 5s");
    line!(o, "        annotations:");
    line!(
        o,
        "          summary: \"replication stopped on {{{{ $labels.host }}}}\""
    );
    line!(o, "      - alert: ReplicationLag");
    line!(
        o,
        "        expr: mysql_slave_status_seconds_behind_master > 5"
    );
    line!(o, "        for: 10s");
    line!(o, "        annotations:");
    line!(
        o,
        "          summary: \"{{{{ $labels.host }}}} is {{{{ $value }}}} s behind its primary\""
    );
    o
}
