//! A virtual IP for a group of load balancers: keepalived's configuration
//! (VRRP version 3, unicast between the members) and the check that tells
//! it whether its host's HAProxy answers.
//!
//! keepalived runs beside HAProxy on each member, in the host's network
//! namespace. The check loop asks HAProxy for `/topolab/lb` ten times a
//! second and writes 0 (it answers) or 1 (it does not) to a file that
//! keepalived watches (`track_file`): on a 1 the member drops to FAULT,
//! gives the address up and tells its peers at once, so the next member
//! takes it within a tenth of a second instead of keepalived's usual three
//! advertisement intervals.

use super::{Ctx, emit, paths};
use crate::model::{ComponentKind, Host, LoadBalancer, Vip};

/// Seconds between VRRP advertisements (VRRPv3 counts centiseconds).
pub const ADVERT_INT_S: f64 = 0.1;
/// How often the check asks HAProxy, seconds.
pub const CHECK_INTERVAL_S: f64 = 0.1;
/// How long the check waits for HAProxy's answer, seconds.
pub const CHECK_TIMEOUT_S: f64 = 0.5;
/// The path HAProxy answers itself on a member of a virtual IP, with the
/// name of its host: what the check asks and how the lab learns which
/// member holds the address.
pub const WHO_PATH: &str = "/topolab/lb";
/// The file the check writes and keepalived watches.
pub const STATE_FILE: &str = "/run/topolab-haproxy-down";
/// The VRRP priority of a group's first member; each next one has
/// [`PRIORITY_STEP`] less.
const FIRST_PRIORITY: u8 = 150;
const PRIORITY_STEP: u8 = 10;

/// `keepalived.conf` for `host`, a member of `vip`.
pub(super) fn keepalived_conf(ctx: &Ctx, host: &Host, vip: &Vip) -> String {
    let t = ctx.topology;
    let address = ctx.plan.vip_address(t, vip);
    let me = ctx.address(&host.name, ComponentKind::Lb);
    let place = vip
        .members
        .iter()
        .position(|m| *m == host.name)
        .unwrap_or(0);
    let priority = FIRST_PRIORITY
        .saturating_sub(PRIORITY_STEP.saturating_mul(u8::try_from(place).unwrap_or(u8::MAX)));
    let mut o = ctx.header("#", &format!("{}/vrrp", host.name));
    let members = vip
        .members
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    emit!(
        o,
        "# keepalived keeps {} ({}) on one of {members} at a time.",
        vip.label(),
        address.map_or_else(|| "?".to_owned(), |a| a.to_string())
    );
    emit!(o, "global_defs {{");
    emit!(o, "    router_id {}", host.name);
    emit!(o, "    vrrp_version 3");
    emit!(o, "    script_user root");
    emit!(o, "    enable_script_security");
    emit!(o, "}}");
    emit!(o);
    emit!(
        o,
        "# 0 while this host's HAProxy answers, 1 while it does not (written by vrrp-check.sh)."
    );
    emit!(o, "track_file haproxy_down {{");
    emit!(o, "    file \"{STATE_FILE}\"");
    emit!(
        o,
        "    # Down until the check has seen HAProxy answer: the address never comes to a"
    );
    emit!(o, "    # host that cannot serve it.");
    emit!(o, "    init_file 1 overwrite");
    emit!(o, "}}");
    emit!(o);
    emit!(o, "vrrp_instance vip_{} {{", vip.number);
    emit!(
        o,
        "    # Every member starts as a backup; the highest priority that runs becomes master."
    );
    emit!(o, "    state BACKUP");
    emit!(o, "    interface eth0");
    emit!(o, "    virtual_router_id {}", vip.number);
    emit!(
        o,
        "    # {members} in the design's order: the first is preferred and takes the address back."
    );
    emit!(o, "    priority {priority}");
    emit!(
        o,
        "    # A backup takes over after 3 silent intervals (keepalived's default is 1 s each)."
    );
    emit!(o, "    advert_int {ADVERT_INT_S}");
    if let Some(me) = me {
        emit!(o, "    unicast_src_ip {me}");
    }
    emit!(o, "    unicast_peer {{");
    for peer in vip.members.iter().filter(|m| **m != host.name) {
        if let Some(a) = ctx.address(peer, ComponentKind::Lb) {
            emit!(o, "        {a}");
        }
    }
    emit!(o, "    }}");
    emit!(o, "    virtual_ipaddress {{");
    if let Some(a) = address {
        emit!(o, "        {a}/24 dev eth0");
    }
    emit!(o, "    }}");
    emit!(o, "    track_file {{");
    emit!(o, "        haproxy_down weight 0");
    emit!(o, "    }}");
    emit!(o, "}}");
    o
}

/// `vrrp-check.sh`: asks HAProxy on 127.0.0.1 for [`WHO_PATH`] every
/// [`CHECK_INTERVAL_S`] and writes the verdict when it changes. Bash's own
/// `/dev/tcp` and `read -t` do the asking and the waiting: no process is
/// started per check.
pub(super) fn check_script(ctx: &Ctx, host: &Host, lb: &LoadBalancer) -> String {
    let mut o = String::from("#!/bin/bash\n");
    o.push_str(&ctx.header("#", &format!("{}/vrrp", host.name)));
    let port = lb.port;
    emit!(
        o,
        "# Tells keepalived whether HAProxy answers here: 0 in {STATE_FILE} while it does,"
    );
    emit!(
        o,
        "# 1 while it refuses, times out ({CHECK_TIMEOUT_S} s) or answers anything but 200."
    );
    emit!(o, "state={STATE_FILE}");
    emit!(o, "answers() {{");
    emit!(
        o,
        "    {{ exec 3<>/dev/tcp/127.0.0.1/{port}; }} 2>/dev/null || return 1"
    );
    emit!(
        o,
        "    printf 'GET {WHO_PATH} HTTP/1.0\\r\\n\\r\\n' >&3 2>/dev/null"
    );
    emit!(o, "    local line=");
    emit!(o, "    read -r -t {CHECK_TIMEOUT_S} line <&3");
    emit!(o, "    exec 3<&-");
    emit!(o, "    [[ $line == HTTP/1.?\" 200 \"* ]]");
    emit!(o, "}}");
    emit!(
        o,
        "# Waits with read's timeout on a pipe nobody writes to: no sleep process per turn."
    );
    emit!(o, "exec 9<> <(:)");
    emit!(
        o,
        "# Writes only a changed verdict, compared with the file itself: keepalived resets it"
    );
    emit!(
        o,
        "# to 1 when it starts, which may be after this loop's first turn."
    );
    emit!(o, "while :; do");
    emit!(o, "    if answers; then now=0; else now=1; fi");
    emit!(o, "    was=");
    emit!(o, "    read -r was <\"$state\" 2>/dev/null");
    emit!(o, "    if [[ $now != \"$was\" ]]; then");
    emit!(o, "        echo \"$now\" >\"$state\"");
    emit!(o, "    fi");
    emit!(o, "    read -r -t {CHECK_INTERVAL_S} -u 9 || true");
    emit!(o, "done");
    o
}

/// The command of a member's keepalived container: the check in the
/// background, keepalived in the foreground logging to the console. A
/// container started again (its host healed) still has the pid files of
/// the keepalived that was killed; keepalived would take them for a
/// running daemon and exit, so they go first.
pub fn command() -> Vec<String> {
    let dir = paths::CONFIG_DIR;
    vec![
        "sh".to_owned(),
        "-c".to_owned(),
        format!(
            "rm -f /run/keepalived.pid /run/vrrp.pid; bash {dir}/vrrp-check.sh & \
             exec keepalived --dont-fork --log-console --vrrp --use-file={dir}/keepalived.conf"
        ),
    ]
}

/// The lines HAProxy's `frontend www` gets on a member of a virtual IP:
/// it answers [`WHO_PATH`] itself, with its host's name, unlogged.
pub(super) fn haproxy_lines(o: &mut String, host: &Host) {
    emit!(
        o,
        "    # A member of a virtual IP: keepalived's check, and the lab asking who holds it."
    );
    emit!(
        o,
        "    http-request set-log-level silent if {{ path {WHO_PATH} }}"
    );
    emit!(
        o,
        "    http-request return status 200 content-type text/plain string \"{}\" if {{ path {WHO_PATH} }}",
        host.name
    );
}
