//! End-to-end capacity: the app server keeps its database connections, a
//! host is held to its CPU size, and `bench capacity` finds a knee and names
//! the bottleneck. Real Docker, HAProxy, Nginx, MariaDB and the app server;
//! skipped with a message when no engine is reachable, unless
//! `TOPOLAB_E2E=require` (CI).

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use support::lab::{Lab, RT, docker};
use topolab::lab::docker::{Engine, ResourceMode};

/// Writes `text` to a temporary topology file and returns its path.
fn topology_file(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(format!("{name}.ron"));
    std::fs::write(&path, text).expect("write topology");
    path.display().to_string()
}

/// TCP connections in `container`'s network namespace whose remote port is
/// 3306, by remote address (any state: a connection opened per request
/// would leave hundreds in TIME_WAIT).
fn mysql_connections(lab: &Lab, container: &str) -> BTreeMap<String, usize> {
    let (code, out) = lab.exec(container, &["cat", "/proc/net/tcp"]);
    assert_eq!(code, 0, "{out}");
    let mut by_remote = BTreeMap::new();
    for line in out.lines().skip(1) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(remote) = fields.get(2) else {
            continue;
        };
        let Some((addr, port)) = remote.split_once(':') else {
            continue;
        };
        if u16::from_str_radix(port, 16).ok() != Some(3306) {
            continue;
        }
        *by_remote.entry(addr.to_owned()).or_default() += 1;
    }
    by_remote
}

#[test]
fn the_app_keeps_its_database_connections() {
    let Some(_docker) = docker() else { return };
    let lab = Lab::up("reference", "e2e-pool");
    // 600 requests through the load balancer, a fifth of them writes.
    let out = lab.run(&[
        "traffic",
        "e2e-pool",
        "--rate",
        "200",
        "--duration",
        "3",
        "--writes",
        "20",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("0 failed"), "{text}");
    let sent: u64 = text
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("requests sent");
    assert!(sent >= 500, "{text}");
    for host in ["web-01", "web-02"] {
        let container = format!("topolab-e2e-pool-{host}-app");
        let by_remote = mysql_connections(&lab, &container);
        assert!(!by_remote.is_empty(), "{host}: no connection to a database");
        // The app's pool per database, plus web-02's replication link to
        // the primary.
        let allowed = topolab::appserver::POOL_SIZE + usize::from(host == "web-02");
        for (remote, n) in &by_remote {
            assert!(
                *n <= allowed,
                "{host}: {n} connections to {remote}:3306 after {sent} requests (pool size {})",
                topolab::appserver::POOL_SIZE
            );
        }
    }
}

const SMALL_HOST: &str = r#"(
    version: 1,
    name: "small",
    hosts: [
        (
            name: "web-01",
            size: (cpus: 0.25, memory_mib: 768),
            components: [nginx(), app(), db(role: primary)],
        ),
    ],
)"#;

/// Cores a container used over `over`, from its CPU counter.
fn cores(engine: &Engine, container: &str, over: Duration) -> f64 {
    RT.block_on(async {
        let before = engine.usage_now(container).await.expect("stats");
        tokio::time::sleep(over).await;
        let after = engine.usage_now(container).await.expect("stats");
        // Against the machine's CPU time read with it: the engine answers
        // at its next sample, so the client's clock would be off by up to
        // a second.
        let system = (after.system_ns - before.system_ns) as f64;
        (after.cpu_ns - before.cpu_ns) as f64 / system * f64::from(after.cpus)
    })
}

#[test]
fn a_host_cannot_use_more_cpu_than_its_size() {
    let Some(_docker) = docker() else { return };
    let dir = tempfile::tempdir().expect("dir");
    let file = topology_file(&dir, "small", SMALL_HOST);
    let lab = Lab::up(&file, "e2e-size");
    let engine = RT.block_on(Engine::connect()).expect("engine");
    let (mode, _, _) = RT.block_on(engine.resources()).expect("docker info");
    // Flat out, far more than a quarter of a core can answer.
    let mut load = lab
        .command()
        .args([
            "traffic",
            "e2e-size",
            "--rate",
            "max",
            "--concurrency",
            "32",
            "--duration",
            "8",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("traffic");
    std::thread::sleep(Duration::from_secs(2));
    let parts = ["nginx", "app", "db"].map(|p| format!("topolab-e2e-size-web-01-{p}"));
    let used = match mode {
        // The holder's cgroup holds the host's containers: its counter is
        // the host's.
        ResourceMode::Shared => cores(&engine, "topolab-e2e-size-web-01", Duration::from_secs(3)),
        ResourceMode::PerContainer => {
            eprintln!("this engine cannot nest cgroups: checking each container against the size");
            parts
                .iter()
                .map(|c| cores(&engine, c, Duration::from_secs(1)))
                .fold(0.0, f64::max)
        }
    };
    let _ = load.wait();
    // Loaded: it used most of its budget, and never more (CFS quotas are
    // exact over whole periods; allow for the sampling edges).
    assert!(used > 0.15, "the host used only {used:.3} cores under load");
    assert!(
        used <= 0.25 * 1.1 + 0.01,
        "the host used {used:.3} cores of its 0.25"
    );
    // `status` shows the host's use against its size.
    let status = lab.run(&["status", "e2e-size"]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.contains("of 0.25 CPU, memory "), "{text}");
    assert!(text.contains(" of 768 MiB"), "{text}");
}

const APP_BOUND: &str = r#"(
    version: 1,
    name: "app-bound",
    hosts: [
        (
            name: "lb-01",
            size: (cpus: 0.5, memory_mib: 256),
            components: [lb(backends: [(host: "web-01"), (host: "web-02")])],
        ),
        (name: "web-01", size: (cpus: 0.05, memory_mib: 256), components: [nginx(), app()]),
        (name: "web-02", size: (cpus: 0.05, memory_mib: 256), components: [nginx(), app()]),
        (name: "db-01", size: (cpus: 1.0, memory_mib: 768), components: [db(role: primary)]),
    ],
)"#;

#[test]
fn bench_capacity_finds_the_knee_and_names_the_apps() {
    let Some(_docker) = docker() else { return };
    let dir = tempfile::tempdir().expect("dir");
    let file = topology_file(&dir, "app-bound", APP_BOUND);
    let lab = Lab::up(&file, "e2e-cap");
    let report = dir.path().join("capacity.md");
    let out = lab.run(&[
        "bench",
        "capacity",
        "e2e-cap",
        "--step-seconds",
        "2",
        "--start-rate",
        "40",
        "--writes",
        "0",
        "--report",
        &report.display().to_string(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let knee = text
        .lines()
        .find_map(|l| l.strip_prefix("knee: "))
        .unwrap_or_else(|| panic!("no knee:\n{text}"));
    let rate: f64 = knee
        .split_whitespace()
        .next()
        .and_then(|r| r.parse().ok())
        .expect("a rate");
    // Two app hosts of 0.05 CPU serve about 40-100 req/s (debug build);
    // a slow first step (a cold lab) sends the search down once, to 20.
    assert!(rate >= 20.0, "{text}");
    let bottleneck = text
        .lines()
        .find(|l| l.starts_with("bottleneck"))
        .unwrap_or_else(|| panic!("no bottleneck:\n{text}"));
    assert!(
        bottleneck.contains("web-01/app") || bottleneck.contains("web-02/app"),
        "{text}"
    );
    assert!(bottleneck.contains("0.05 CPU"), "{text}");
    let md = std::fs::read_to_string(&report).expect("report written");
    assert!(md.contains("**Knee: "), "{md}");
    assert!(md.contains("| web-01 | 0.05 CPU |"), "{md}");
}
