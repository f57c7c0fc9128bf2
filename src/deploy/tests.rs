use super::*;
use crate::preset::Preset;

fn h(name: &str) -> HostName {
    HostName::new(name)
}

fn topology(name: &str) -> Topology {
    Preset::find(name)
        .and_then(|p| p.topology().ok())
        .expect("a preset")
}

fn request(version: &str, batch: usize, canary: Option<&str>) -> Request {
    Request {
        version: version.to_owned(),
        batch,
        canary: canary.map(h),
        pause_s: 10.0,
    }
}

fn names(batches: &[Batch]) -> Vec<(Vec<&str>, bool)> {
    batches
        .iter()
        .map(|b| (b.hosts.iter().map(HostName::as_str).collect(), b.canary))
        .collect()
}

#[test]
fn batches_with_the_canary_alone_first() {
    let scaled = topology("scaled");
    let apps: Vec<String> = scaled
        .hosts
        .iter()
        .filter(|x| x.has(ComponentKind::App))
        .map(|x| x.name.to_string())
        .collect();
    assert!(apps.len() >= 3, "{apps:?}");
    let canary = apps[1].clone();
    let plan = plan(&scaled, &BTreeMap::new(), &request("v2", 2, Some(&canary))).expect("a plan");
    assert_eq!(plan.batches[0].hosts, vec![h(&canary)]);
    assert!(plan.batches[0].canary);
    // The rest in name order, two at a time, each host once.
    let rest: Vec<&HostName> = plan.batches[1..].iter().flat_map(|b| &b.hosts).collect();
    let mut expected: Vec<&String> = apps.iter().filter(|a| **a != canary).collect();
    expected.sort();
    assert_eq!(
        rest.iter().map(|x| x.as_str()).collect::<Vec<_>>(),
        expected.iter().map(|x| x.as_str()).collect::<Vec<_>>()
    );
    assert!(
        plan.batches[1..]
            .iter()
            .all(|b| b.hosts.len() <= 2 && !b.canary)
    );
}

#[test]
fn the_plans_of_the_reference_design() {
    let reference = topology("reference");
    let none = BTreeMap::new();
    for (req, expected) in [
        (
            request("v2", 1, None),
            vec![(vec!["web-01"], false), (vec!["web-02"], false)],
        ),
        (
            request("v2", 1, Some("web-02")),
            vec![(vec!["web-02"], true), (vec!["web-01"], false)],
        ),
        // The canary alone, then the other: no batch takes both.
        (
            request("v2", 2, Some("web-01")),
            vec![(vec!["web-01"], true), (vec!["web-02"], false)],
        ),
    ] {
        let plan = plan(&reference, &none, &req).expect("a plan");
        assert_eq!(names(&plan.batches), expected, "{req:?}");
    }
}

#[test]
fn hosts_on_the_release_already_are_left_alone() {
    let reference = topology("reference");
    let running = BTreeMap::from([(h("web-01"), "v2".to_owned())]);
    let plan = plan(&reference, &running, &request("v2", 1, None)).expect("a plan");
    assert_eq!(names(&plan.batches), vec![(vec!["web-02"], false)]);
    assert_eq!(plan.unchanged, vec![h("web-01")]);
    assert_eq!(plan.previous[&h("web-02")], "v1");
    assert!(
        plan.describe().contains("already on v2: web-01"),
        "{}",
        plan.describe()
    );
    // Everything on it already: nothing to do.
    let all = BTreeMap::from([
        (h("web-01"), "v2".to_owned()),
        (h("web-02"), "v2".to_owned()),
    ]);
    assert!(
        super::plan(&reference, &all, &request("v2", 1, None))
            .expect("a plan")
            .batches
            .is_empty()
    );
}

#[test]
fn refusals() {
    let reference = topology("reference");
    let none = BTreeMap::new();
    for (req, expected) in [
        (
            request("v3", 1, None),
            PlanError::UnknownRelease("v3".to_owned()),
        ),
        (request("v2", 0, None), PlanError::EmptyBatch),
        (
            request("v2", 1, Some("lb-01")),
            PlanError::CanaryNotAnApp(h("lb-01")),
        ),
        (
            request("v2", 2, None),
            PlanError::NoneLeftServing {
                batch: 2,
                servers: 2,
            },
        ),
        (
            Request {
                pause_s: f64::NAN,
                ..request("v2", 1, None)
            },
            PlanError::BadPause,
        ),
    ] {
        assert_eq!(plan(&reference, &none, &req), Err(expected), "{req:?}");
    }
    let one = topology("one-server");
    let e = plan(&one, &none, &request("v2", 1, None)).expect_err("one server");
    assert!(e.to_string().contains("out of rotation at once"), "{e}");
}

#[test]
fn the_rollback_set_is_every_host_switched_so_far_newest_first() {
    let scaled = topology("scaled");
    let mut apps: Vec<HostName> = scaled
        .hosts
        .iter()
        .filter(|x| x.has(ComponentKind::App))
        .map(|x| x.name.clone())
        .collect();
    apps.sort();
    let running = BTreeMap::from([(apps[0].clone(), "v2".to_owned())]);
    let plan = plan(
        &scaled,
        &running,
        &request("v2-broken", 1, Some(apps[1].as_str())),
    )
    .expect("a plan");
    // The canary failed before it was switched: nothing to undo.
    assert!(plan.rollback(0, &[]).is_empty());
    // The canary failed after its switch: it goes back alone.
    assert_eq!(
        plan.rollback(0, &[apps[1].clone()]),
        vec![(apps[1].clone(), "v1".to_owned())]
    );
    // Two batches done (canary, then apps[0] back to v2): newest first.
    let back = plan.rollback(2, &[]);
    assert_eq!(
        back,
        vec![
            (apps[0].clone(), "v2".to_owned()),
            (apps[1].clone(), "v1".to_owned())
        ]
    );
}

#[test]
fn the_canary_verdict() {
    for (healthy, requests, failed, expected_pass) in [
        (true, 200, 0, true),
        (true, 200, 2, true),   // 1% at a 1% threshold
        (true, 200, 3, false),  // 1.5%
        (false, 200, 0, false), // its health check
        (true, 5, 0, true),     // few requests, none failed
        (true, 5, 1, false),    // few requests, one failed
        (true, 0, 0, true),
    ] {
        let v = canary_verdict(healthy, requests, failed, 1.0, 20);
        assert_eq!(
            v == Verdict::Pass,
            expected_pass,
            "{healthy} {requests} {failed}: {v:?}"
        );
    }
    let Verdict::Fail(why) = canary_verdict(true, 200, 3, 1.0, 20) else {
        panic!("a failure");
    };
    assert_eq!(why, "3 of 200 requests failed (1.5%, above 1%)");
}

#[test]
fn the_report_says_each_batch_and_how_it_ended() {
    let reference = topology("reference");
    let plan = plan(
        &reference,
        &BTreeMap::new(),
        &request("v2", 1, Some("web-02")),
    )
    .expect("a plan");
    let done = markdown(
        "lab",
        &plan,
        &[Duration::from_millis(1500), Duration::from_millis(1200)],
        None,
        Duration::from_millis(2700),
    );
    assert!(done.contains("| 1 | web-02 (canary) | 1.50 s |"), "{done}");
    assert!(done.contains("| 2 | web-01 | 1.20 s |"), "{done}");
    assert!(done.contains("**Completed** in 2.70 s"), "{done}");
    let back = plan.rollback(1, &[]);
    let stopped = markdown(
        "lab",
        &plan,
        &[Duration::from_millis(1500)],
        Some(&RolledBack {
            why: "web-01 fails its health check",
            hosts: &back,
            took: Duration::from_millis(900),
        }),
        Duration::from_millis(3000),
    );
    assert!(stopped.contains("| 2 | web-01 | not run |"), "{stopped}");
    assert!(
        stopped.contains("**Rolled back** after 3.00 s: web-01 fails its health check."),
        "{stopped}"
    );
    assert!(stopped.contains("web-02 → v1"), "{stopped}");
}
