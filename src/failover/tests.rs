use super::*;

fn h(name: &str) -> HostName {
    HostName::new(name)
}

fn signal(source: Source, at: Millis) -> Signal {
    Signal { source, at }
}

fn replica(name: &str, received: u64, missing: Option<u64>) -> Candidate {
    Candidate {
        replica: h(name),
        reachable: true,
        received,
        missing,
    }
}

const NOW: Millis = 100_000;

/// What a decision is, in one word, for the table.
fn kind(d: &Decision) -> &'static str {
    match d {
        Decision::Healthy => "healthy",
        Decision::Wait(_) => "wait",
        Decision::Refuse(_) => "refuse",
        Decision::Promote { .. } => "promote",
    }
}

#[test]
fn which_sources_agree() {
    let died = || signal(Source::ContainerDied, NOW - 100);
    let monitor = || signal(Source::MonitorLost, NOW - 50);
    let io = |r: &str| signal(Source::ReplicaLost(h(r)), NOW - 10);
    let old = |s: Source| signal(s, NOW - 5_000);
    let candidates = [replica("web-02", 10, Some(0))];
    for (signals, expected) in [
        (vec![], "healthy"),
        // A slow query: the monitor alone.
        (vec![monitor()], "wait"),
        // Two replicas losing it are one source.
        (vec![io("web-02"), io("db-03")], "wait"),
        (vec![died(), monitor()], "promote"),
        (vec![monitor(), io("web-02")], "promote"),
        (vec![died(), monitor(), io("web-02")], "promote"),
        // Too far apart to agree (the window is 2 s).
        (vec![old(Source::ContainerDied), monitor()], "wait"),
        // Both long ago but together: the primary is still gone.
        (
            vec![old(Source::ContainerDied), old(Source::MonitorLost)],
            "promote",
        ),
        // The latest report of a kind counts: an old one then a new one.
        (
            vec![old(Source::MonitorLost), monitor(), io("web-02")],
            "promote",
        ),
        // A report from the future is not counted.
        (
            vec![signal(Source::ContainerDied, NOW + 10), monitor()],
            "wait",
        ),
    ] {
        let d = decide(&Policy::default(), &signals, true, None, NOW, &candidates);
        assert_eq!(kind(&d), expected, "{signals:?}: {d:?}");
    }
    let three = Policy {
        agree: 3,
        ..Policy::default()
    };
    let d = decide(&three, &[died(), monitor()], false, None, NOW, &candidates);
    let Decision::Wait(why) = d else {
        panic!("waits: {d:?}");
    };
    assert_eq!(
        why,
        "2 of the 3 sources needed say the primary is gone (its container died; the monitor lost its connection)"
    );
}

#[test]
fn no_second_failover_within_the_quiet_window() {
    let signals = [
        signal(Source::ContainerDied, NOW - 10),
        signal(Source::MonitorLost, NOW - 10),
    ];
    let candidates = [replica("web-02", 10, Some(0))];
    for (last, expected) in [
        (None, "promote"),
        (Some(NOW - 30_000), "refuse"),
        (Some(NOW - 60_000), "promote"),
    ] {
        let d = decide(&Policy::default(), &signals, false, last, NOW, &candidates);
        assert_eq!(kind(&d), expected, "{last:?}: {d:?}");
    }
    let d = decide(
        &Policy::default(),
        &signals,
        false,
        Some(NOW - 30_000),
        NOW,
        &candidates,
    );
    assert!(
        matches!(&d, Decision::Refuse(why) if why.contains("30.0 s ago") && why.contains("anti-flapping")),
        "{d:?}"
    );
}

#[test]
fn the_most_advanced_reachable_replica_and_the_loss_rules() {
    let signals = [
        signal(Source::ContainerDied, NOW - 10),
        signal(Source::ReplicaLost(h("web-02")), NOW - 10),
    ];
    let strict = Policy::default();
    let lenient = Policy {
        accept_loss: true,
        ..Policy::default()
    };
    let unreachable = Candidate {
        reachable: false,
        ..replica("db-04", 99, Some(0))
    };
    for (policy, candidates, expected) in [
        // The most advanced, not the first; an unreachable one is skipped.
        (
            strict,
            vec![
                replica("web-02", 5, Some(0)),
                replica("db-03", 9, Some(0)),
                unreachable.clone(),
            ],
            Some("db-03"),
        ),
        // Ties go to the first name.
        (
            strict,
            vec![replica("db-03", 9, Some(0)), replica("web-02", 9, Some(0))],
            Some("db-03"),
        ),
        // Loss refused, unless accepted.
        (strict, vec![replica("web-02", 5, Some(3))], None),
        (lenient, vec![replica("web-02", 5, Some(3))], Some("web-02")),
        // An unknown loss is left to the promotion, which assesses it
        // before acting (and refuses then).
        (strict, vec![replica("web-02", 5, None)], Some("web-02")),
        (lenient, vec![replica("web-02", 5, None)], Some("web-02")),
        // Nobody to promote.
        (lenient, vec![unreachable.clone()], None),
        (lenient, vec![], None),
    ] {
        let d = decide(&policy, &signals, false, None, NOW, &candidates);
        let promoted = match &d {
            Decision::Promote { replica, .. } => Some(replica.as_str()),
            _ => None,
        };
        assert_eq!(promoted, expected, "{candidates:?}: {d:?}");
    }
    let d = decide(
        &strict,
        &signals,
        false,
        None,
        NOW,
        &[replica("web-02", 5, Some(3))],
    );
    assert!(
        matches!(&d, Decision::Refuse(why) if why.starts_with("3 transaction(s) of the primary never reached web-02")),
        "{d:?}"
    );
}

#[test]
fn a_primary_that_may_still_run_is_fenced_first() {
    // A partition: the container runs, the monitor and the replica lost it.
    let partition = [
        signal(Source::MonitorLost, NOW - 10),
        signal(Source::ReplicaLost(h("web-02")), NOW - 10),
    ];
    let candidates = [replica("web-02", 5, Some(0))];
    for (running, fence) in [(true, Fence::ReadOnlyOrStop), (false, Fence::AlreadyDown)] {
        let d = decide(
            &Policy::default(),
            &partition,
            running,
            None,
            NOW,
            &candidates,
        );
        assert_eq!(
            d,
            Decision::Promote {
                replica: h("web-02"),
                fence,
                because: vec![Source::MonitorLost, Source::ReplicaLost(h("web-02"))],
            }
        );
    }
}
