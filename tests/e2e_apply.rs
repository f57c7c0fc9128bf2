//! End-to-end: applying edited designs to running labs (local image
//! profile) through `topolab apply`, under real traffic. Skipped with a
//! message when no engine is reachable, unless `TOPOLAB_E2E=require` (CI).

mod support;
use support::Bounded;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use support::lab::{Background, Lab, docker, eventually, failed, leftovers};
use topolab::lab::state::LabState;
use topolab::model::{Algorithm, Backend, Component, ComponentKind, Database, Host, HostName};
use topolab::model::{ReplicationMode, Role, Topology};

fn state(lab: &Lab) -> LabState {
    serde_json::from_value(lab.state()).expect("lab state")
}

fn reference() -> Topology {
    topolab::preset::Preset::find("reference")
        .expect("preset")
        .topology()
        .expect("valid")
}

/// Writes `t` as a topology file in a temporary folder kept by the caller.
fn file(dir: &tempfile::TempDir, name: &str, t: &Topology) -> String {
    let path = dir.path().join(format!("{name}.ron"));
    std::fs::write(&path, topolab::preset::to_ron(t).expect("ron")).expect("write");
    path.to_string_lossy().into_owned()
}

fn lb(t: &mut Topology) -> &mut topolab::model::LoadBalancer {
    t.host_mut(&HostName::new("lb-01"))
        .and_then(Host::load_balancer_mut)
        .expect("lb-01")
}

fn with_web_03(mut t: Topology) -> Topology {
    t.hosts.push(Host::new("web-03").with([
        Component::with_defaults(ComponentKind::Nginx),
        Component::with_defaults(ComponentKind::App),
    ]));
    lb(&mut t).backends.push(Backend::new("web-03"));
    t
}

fn output(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn apply_ok(lab: &Lab, args: &[&str]) -> String {
    let mut all = vec!["apply", lab.name.as_str()];
    all.extend_from_slice(args);
    let out = lab.run(&all);
    let text = output(&out);
    assert!(out.status.success(), "topolab {all:?} failed:\n{text}");
    text
}

fn runtime_api(lab: &Lab, command: &str) -> String {
    let (code, out) = lab.exec(
        &format!("topolab-{}-lb-01-lb", lab.name),
        &[
            "sh",
            "-c",
            &format!("echo '{command}' | socat - UNIX-CONNECT:/run/haproxy-admin.sock"),
        ],
    );
    assert_eq!(code, 0, "{command}: {out}");
    out
}

/// `SHOW SLAVE STATUS` on `host`, one `Name: value` line per field.
fn replica_status(lab: &Lab, host: &str) -> String {
    let (code, out) = lab.exec(
        &format!("topolab-{}-{host}-db", lab.name),
        &["mariadb", "-e", "SHOW SLAVE STATUS\\G"],
    );
    assert_eq!(code, 0, "{host}: {out}");
    out
}

fn containers_of(lab: &Lab, host: &str) -> Vec<String> {
    let out = std::process::Command::new("docker")
        .args(["ps", "-a", "--format", "{{.Names}}", "--filter"])
        .arg(format!("label=topolab.lab={}", lab.name))
        .bounded()
        .expect("docker");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|n| {
            n.strip_prefix(&format!("topolab-{}-{host}", lab.name))
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('-'))
        })
        .map(str::to_owned)
        .collect()
}

/// Add a web server, change the algorithm and a weight, remove the web
/// server again, all under 100 requests per second: no request fails, each
/// change is seen in HAProxy's runtime API and in who serves, and the last
/// file applied twice says "no changes".
#[test]
fn web_servers_join_and_leave_and_the_balancing_changes_without_a_failed_request() {
    let Some(_docker) = docker() else { return };
    let lab = Lab::up("reference", "e2e-apply-web");
    let dir = tempfile::tempdir().expect("dir");
    let traffic = Background::start(&state(&lab), 100.0, 0, 600.0);
    std::thread::sleep(Duration::from_secs(1));

    // Scale out: web-03 serves after the apply.
    let scaled = with_web_03(reference());
    let scaled_file = file(&dir, "scaled", &scaled);
    let dry = apply_ok(&lab, &[&scaled_file, "--dry-run"]);
    assert!(dry.contains("[hitless] add host web-03"), "{dry}");
    assert!(
        containers_of(&lab, "web-03").is_empty(),
        "a dry run changes nothing"
    );
    let text = apply_ok(&lab, &[&scaled_file]);
    assert!(text.contains("web-03 joins"), "{text}");
    let served = eventually(Duration::from_secs(5), || {
        traffic
            .traces()
            .iter()
            .any(|t| t.ok() && t.web.as_ref().is_some_and(|w| w.as_str() == "web-03"))
            .then_some(())
    });
    assert!(served.is_some(), "web-03 never served a request");

    // Algorithm and a weight: the runtime API reports them.
    let mut balanced = scaled.clone();
    lb(&mut balanced).algorithm = Algorithm::LeastConn;
    lb(&mut balanced).backends[1].weight = 50;
    let balanced_file = file(&dir, "balanced", &balanced);
    let text = apply_ok(&lab, &[&balanced_file]);
    assert!(text.contains("algorithm roundrobin → leastconn"), "{text}");
    let weight = runtime_api(&lab, "get weight web/web-02");
    assert!(weight.starts_with("50 "), "{weight}");
    let conf = lab.exec(
        &format!("topolab-{}-lb-01-lb", lab.name),
        &["cat", "/etc/topolab/haproxy.cfg"],
    );
    assert!(conf.1.contains("balance leastconn"), "{}", conf.1);
    // A weight alone goes through the runtime API, without a reload.
    let pid = runtime_api(&lab, "show info");
    let mut reweighted = balanced.clone();
    lb(&mut reweighted).backends[0].weight = 80;
    let reweighted_file = file(&dir, "reweighted", &reweighted);
    let text = apply_ok(&lab, &[&reweighted_file]);
    assert!(text.contains("runtime API"), "{text}");
    let pid_line = |s: &str| s.lines().find(|l| l.starts_with("Pid:")).map(str::to_owned);
    assert_eq!(pid_line(&pid), pid_line(&runtime_api(&lab, "show info")));
    assert!(runtime_api(&lab, "get weight web/web-01").starts_with("80 "));

    // Scale in: web-03 is drained, then gone with its containers.
    let text = apply_ok(&lab, &["reference"]);
    assert!(text.contains("web-03 leaves (drained first)"), "{text}");
    assert!(text.contains("drained from lb-01/lb"), "{text}");
    assert!(containers_of(&lab, "web-03").is_empty());
    let stat = runtime_api(&lab, "show stat");
    assert!(!stat.contains("web-03"), "{stat}");
    // Applied twice: nothing to do.
    let again = apply_ok(&lab, &["reference"]);
    assert!(again.contains("no changes"), "{again}");
    std::thread::sleep(Duration::from_millis(500));
    let (_, traces) = traffic.stop();
    // Requests flowed at their rate through every change.
    let first = traces.iter().map(|t| t.at).min().unwrap_or(0);
    let last = traces.iter().map(|t| t.at).max().unwrap_or(0);
    let seconds = last.saturating_sub(first) as f64 / 1000.0;
    assert!(
        seconds >= 3.0 && traces.len() as f64 >= 0.9 * 100.0 * seconds,
        "{} requests in {seconds:.1} s",
        traces.len()
    );
    let failures = failed(&traces);
    assert!(
        failures.is_empty(),
        "{} failed: {failures:?}",
        failures.len()
    );
}

/// A replica added on a new host replicates (both threads, lag 0) and
/// holds every row of its primary; semi-sync switches on live.
#[test]
fn a_new_replica_catches_up_and_semi_sync_goes_live() {
    let Some(_docker) = docker() else { return };
    let lab = Lab::up("reference", "e2e-apply-db");
    let dir = tempfile::tempdir().expect("dir");
    let traffic = Background::start(&state(&lab), 30.0, 50, 600.0);
    std::thread::sleep(Duration::from_secs(2));
    let mut t = reference();
    t.hosts
        .push(Host::new("db-03").with([Component::Db(Database {
            role: Role::Replica {
                of: HostName::new("web-01"),
            },
            ..Database::default()
        })]));
    let replica_file = file(&dir, "replica", &t);
    let text = apply_ok(&lab, &[&replica_file]);
    assert!(text.contains("db-03/db caught up with web-01/db"), "{text}");
    let status = replica_status(&lab, "db-03");
    assert!(status.contains("Slave_IO_Running: Yes"), "{status}");
    assert!(status.contains("Slave_SQL_Running: Yes"), "{status}");
    assert!(lab.sql("db-03", "SELECT @@read_only") == "1");

    t.databases.replication = ReplicationMode::SemiSync;
    let semi_file = file(&dir, "semi", &t);
    let text = apply_ok(&lab, &[&semi_file]);
    assert!(
        text.contains("[hitless] replication becomes semi-synchronous"),
        "{text}"
    );
    let on = eventually(Duration::from_secs(5), || {
        (lab.sql(
            "web-01",
            "SELECT VARIABLE_VALUE FROM information_schema.global_status WHERE VARIABLE_NAME = 'RPL_SEMI_SYNC_MASTER_STATUS'",
        ) == "ON")
            .then_some(())
    });
    assert!(on.is_some(), "the primary never reported semi-sync on");
    let (_, traces) = traffic.stop();
    let failures = failed(&traces);
    assert!(
        failures.is_empty(),
        "{} failed: {failures:?}",
        failures.len()
    );
    // Writes stopped: the replica holds exactly the primary's rows.
    let count = "SELECT COUNT(*) FROM app.items";
    let caught = eventually(Duration::from_secs(10), || {
        (lab.sql("db-03", count) == lab.sql("web-01", count)).then_some(())
    });
    assert!(
        caught.is_some(),
        "db-03 has {} rows, web-01 {}",
        lab.sql("db-03", count),
        lab.sql("web-01", count)
    );
    let lag = replica_status(&lab, "db-03");
    assert!(lag.contains("Seconds_Behind_Master: 0"), "{lag}");
}

/// A destructive change is refused without --yes and changes nothing; an
/// apply killed after its first action leaves a record that matches the
/// lab, and applying again finishes the job.
#[test]
fn destructive_changes_need_yes_and_an_interrupted_apply_converges() {
    let Some(_docker) = docker() else { return };
    let lab = Lab::up("reference", "e2e-apply-safe");
    let dir = tempfile::tempdir().expect("dir");
    let mut smaller = reference();
    lb(&mut smaller)
        .backends
        .retain(|b| b.host.as_str() != "web-02");
    smaller.hosts.retain(|h| h.name.as_str() != "web-02");
    let smaller_file = file(&dir, "smaller", &smaller);
    let out = lab.run(&["apply", &lab.name, &smaller_file]);
    let text = output(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("web-02/db's data is deleted"), "{text}");
    assert!(text.contains("--yes"), "{text}");
    assert_eq!(containers_of(&lab, "web-02").len(), 4, "nothing changed");
    let stat = runtime_api(&lab, "show stat");
    assert!(stat.contains("web-02"), "{stat}");

    // Killed once the first action (adding web-03) is recorded.
    let mut wider = with_web_03(reference());
    lb(&mut wider).algorithm = Algorithm::LeastConn;
    let wider_file = file(&dir, "wider", &wider);
    let mut child = lab
        .command()
        .args(["apply", &lab.name, &wider_file])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("topolab runs");
    let stdout = child.stdout.take().expect("stdout");
    let mut seen = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("line");
        seen.push_str(&line);
        seen.push('\n');
        if line.trim_start().starts_with("1. done") {
            child.kill().expect("kill");
            break;
        }
    }
    let _ = child.wait();
    assert!(seen.contains("1. done"), "{seen}");
    let recorded = state(&lab);
    assert!(
        recorded.topology.host(&HostName::new("web-03")).is_some(),
        "the record holds web-03, which runs"
    );
    assert_eq!(
        recorded
            .topology
            .load_balancers()
            .next()
            .map(|(_, l)| l.algorithm),
        Some(Algorithm::RoundRobin),
        "the record does not hold what was not done"
    );
    let text = apply_ok(&lab, &[&wider_file]);
    assert!(text.contains("web-03 joins"), "{text}");
    assert!(!text.contains("add host web-03"), "{text}");
    assert!(apply_ok(&lab, &[&wider_file]).contains("no changes"));
    assert!(runtime_api(&lab, "show stat").contains("web-03"));

    // With --yes, web-02 and everything of it go.
    let text = apply_ok(&lab, &[&smaller_file, "--yes"]);
    assert!(text.contains("remove host web-02"), "{text}");
    assert!(containers_of(&lab, "web-02").is_empty());
    let volumes = std::process::Command::new("docker")
        .args(["volume", "ls", "-q"])
        .bounded()
        .expect("docker");
    assert!(
        !String::from_utf8_lossy(&volumes.stdout).contains(&format!("topolab-{}-web-02", lab.name)),
        "web-02's volume is gone"
    );
    let name = lab.name.clone();
    drop(lab);
    assert_eq!(leftovers(&name), (0, 0, 0));
}
