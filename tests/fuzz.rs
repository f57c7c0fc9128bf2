//! Property test: random mutations of the presets never make loading,
//! reviewing or generating panic, and anything that loads also generates.

use proptest::prelude::*;
use topolab::generate::{Secrets, Settings, generate};
use topolab::model::review;
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
        if let Ok(topology) = load(&bytes) {
            let _ = review(&topology);
            let secrets = Secrets {
                db_root_password: "r".into(), app_password: "a".into(),
                replication_password: "p".into(), monitor_password: "m".into(),
                stats_password: "s".into(), admin_token: "t".into(),
                tls_cert_pem: "c".into(), tls_key_pem: "k".into(),
            };
            let generated = generate(&topology, &Settings::for_topology(&topology), &secrets);
            prop_assert!(generated.is_ok(), "loaded but did not generate: {:?}", generated.err());
        }
    }
}
