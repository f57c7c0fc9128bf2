//! Prometheus's scrape config and alert rules, when monitoring is enabled.

use super::{Ctx, emit};
use crate::model::ComponentKind;

pub(super) fn prometheus(ctx: &Ctx) -> String {
    let t = ctx.topology;
    let mut o = ctx.header("#", "Prometheus");
    emit!(o, "global:");
    emit!(o, "  scrape_interval: 5s");
    emit!(o, "  evaluation_interval: 5s");
    emit!(o, "rule_files:");
    emit!(o, "  - /etc/topolab/alerts.yml");
    emit!(o, "scrape_configs:");
    emit!(o, "  - job_name: haproxy");
    emit!(o, "    static_configs:");
    for (h, lb) in t.load_balancers() {
        if let Some(addr) = ctx.endpoint(&h.name, ComponentKind::Lb) {
            emit!(o, "      - targets: [\"{addr}:{}\"]", lb.stats_port);
            emit!(o, "        labels: {{ host: \"{}\" }}", h.name);
        }
    }
    emit!(o, "  - job_name: mysql");
    emit!(o, "    static_configs:");
    for (h, _) in t.databases() {
        if let Some(addr) = ctx.endpoint(&h.name, ComponentKind::Db) {
            emit!(
                o,
                "      - targets: [\"{addr}:{}\"]",
                crate::model::EXPORTER_PORT
            );
            emit!(o, "        labels: {{ host: \"{}\" }}", h.name);
        }
    }
    o
}

pub(super) fn alerts(ctx: &Ctx) -> String {
    let mut o = ctx.header("#", "Prometheus alert rules");
    emit!(o, "groups:");
    emit!(o, "  - name: topolab");
    emit!(o, "    rules:");
    emit!(o, "      - alert: BackendServerDown");
    emit!(
        o,
        "        expr: haproxy_server_status{{state=\"UP\"}} == 0"
    );
    emit!(o, "        for: 5s");
    emit!(o, "        annotations:");
    emit!(
        o,
        "          summary: \"{{{{ $labels.proxy }}}}/{{{{ $labels.server }}}} is not UP\""
    );
    emit!(o, "      - alert: ReplicationStopped");
    emit!(
        o,
        "        expr: mysql_slave_status_slave_io_running == 0 or mysql_slave_status_slave_sql_running == 0"
    );
    emit!(o, "        for: 5s");
    emit!(o, "        annotations:");
    emit!(
        o,
        "          summary: \"replication stopped on {{{{ $labels.host }}}}\""
    );
    emit!(o, "      - alert: ReplicationLag");
    emit!(
        o,
        "        expr: mysql_slave_status_seconds_behind_master > 5"
    );
    emit!(o, "        for: 10s");
    emit!(o, "        annotations:");
    emit!(
        o,
        "          summary: \"{{{{ $labels.host }}}} is {{{{ $value }}}} s behind its primary\""
    );
    o
}
