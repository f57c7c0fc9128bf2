//! Property tests: random mutations of the presets never make loading,
//! reviewing or generating panic; anything that loads also generates;
//! every problem prints as one safe line and points into the file.

use proptest::prelude::*;
use topolab::generate::{Secrets, Settings, generate};
use topolab::model::{is_unsafe_char, prometheus_port, published_ports, review, yaml_reading};
use topolab::preset::{PRESETS, load};

#[derive(Clone, Debug)]
enum Mutation {
    Delete { at: usize, len: usize },
    Insert { at: usize, text: String },
    Flip { at: usize, byte: u8 },
    Duplicate { at: usize, len: usize },
    Truncate { at: usize },
    SwapWord { at: usize, word: &'static str },
}

const WORDS: &[&str] = &[
    "primary",
    "replica(of: \"web-01\")",
    "\"\"",
    "-1",
    "99999",
    "NaN",
    "[]",
    "()",
    ",",
    ")",
    "]",
    "lb()",
    "db()",
    "backup: true",
    "\"web-09\"",
    "\"é\"",
    "group: \"x\"",
    "tls: true",
    "\"yes\"",
    "\"0x1f\"",
    "\"2001-12-14\"",
    "\"monitoring\"",
    "\"web-01-db\"",
    "\"web-01-exporter\"",
    "\"web\\u{1b}[2K\\n\"",
    "\"we\\\"b\"",
    "\"w\te\"",
    "r#\"web-02\"#",
    "published_port: 8080",
    "published_port: 65500",
    "monitoring: (enabled: true)",
    "\r\n",
    "/* name: \"web-01\" */",
    "\u{202e}",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = 0usize..4000;
    prop_oneof![
        (at.clone(), 1usize..40).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (at.clone(), "[ -~]{1,12}").prop_map(|(at, text)| Mutation::Insert { at, text }),
        (at.clone(), any::<u8>()).prop_map(|(at, byte)| Mutation::Flip { at, byte }),
        (at.clone(), 1usize..200).prop_map(|(at, len)| Mutation::Duplicate { at, len }),
        at.clone().prop_map(|at| Mutation::Truncate { at }),
        (at, prop::sample::select(WORDS)).prop_map(|(at, word)| Mutation::SwapWord { at, word }),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let n = bytes.len();
    let clamp = |i: usize| if n == 0 { 0 } else { i % (n + 1) };
    match m {
        Mutation::Delete { at, len } => {
            let a = clamp(*at);
            let b = (a + len).min(n);
            bytes.drain(a..b);
        }
        Mutation::Insert { at, text } => {
            let a = clamp(*at);
            bytes.splice(a..a, text.bytes());
        }
        Mutation::Flip { at, byte } => {
            if n > 0 {
                bytes[at % n] = *byte;
            }
        }
        Mutation::Duplicate { at, len } => {
            let a = clamp(*at);
            let b = (a + len).min(n);
            let slice = bytes[a..b].to_vec();
            bytes.splice(b..b, slice);
        }
        Mutation::Truncate { at } => bytes.truncate(clamp(*at)),
        Mutation::SwapWord { at, word } => {
            // Replace the identifier or literal at `at` with `word`.
            let a = clamp(*at);
            let b = bytes[a..]
                .iter()
                .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_' || *c == b'"'))
                .map_or(n, |i| a + i);
            bytes.splice(a..b, word.bytes());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_presets_never_panic(
        which in 0usize..PRESETS.len(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let mut bytes = PRESETS[which].source.as_bytes().to_vec();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        match load(&bytes) {
            Ok(topology) => loaded(&topology)?,
            Err(problems) => {
                for p in &problems {
                    let shown = p.to_string();
                    prop_assert!(
                        !shown.chars().any(is_unsafe_char),
                        "a problem prints raw control characters: {:?}", shown
                    );
                    if let (Some(at), Some(_)) = (p.at, &p.subject) {
                        // A host's problem points at the opening of its name.
                        let text = String::from_utf8_lossy(&bytes);
                        let line = text.split('\n').nth(at.line - 1);
                        let first = line.and_then(|l| l.chars().nth(at.column - 1));
                        prop_assert!(
                            matches!(first, Some('"' | 'r')),
                            "{} points at {:?}", shown, first
                        );
                    }
                }
            }
        }
    }
}

/// What must hold of a topology that loads: it reviews and generates, and
/// what it publishes fits and never collides.
fn loaded(topology: &topolab::model::Topology) -> Result<(), TestCaseError> {
    let _ = review(topology);
    let secrets = Secrets {
        db_root_password: "r".into(),
        app_password: "a".into(),
        replication_password: "p".into(),
        monitor_password: "m".into(),
        stats_password: "s".into(),
        admin_token: "t".into(),
        tls_cert_pem: "c".into(),
        tls_key_pem: "k".into(),
    };
    let generated = generate(topology, &Settings::for_topology(topology), &secrets);
    prop_assert!(
        generated.is_ok(),
        "loaded but did not generate: {:?}",
        generated.err()
    );
    let mut ports: Vec<u32> = published_ports(topology)
        .iter()
        .flat_map(|p| std::iter::once(p.http).chain(p.https))
        .chain(prometheus_port(topology).map(u32::from))
        .collect();
    prop_assert!(
        ports.iter().all(|p| (1..=65_535).contains(p)),
        "{:?}",
        ports
    );
    let n = ports.len();
    ports.sort_unstable();
    ports.dedup();
    prop_assert_eq!(ports.len(), n, "a published port is used twice");
    for h in &topology.hosts {
        prop_assert!(yaml_reading(h.name.as_str()).is_none(), "{}", h.name);
    }
    Ok(())
}
