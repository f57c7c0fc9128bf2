//! A small YAML writer for generated manifests: a JSON value written as
//! block-style YAML, keys in order, multi-line text as literal blocks (so a
//! config file in a ConfigMap reads as the file itself), and every string
//! that a YAML reader could take for something else (a number, a boolean,
//! a null, or text with special characters) double-quoted with JSON's
//! escapes, which YAML's double-quoted style shares.

use serde_json::Value;

/// `value` as one YAML document (no `---`), ending in a newline.
pub fn document(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => write_map(&mut out, map, 0),
        Value::Array(items) if !items.is_empty() => write_list(&mut out, items, 0),
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    out
}

/// Several documents, each after a `---` line.
pub fn documents(values: &[Value]) -> String {
    values
        .iter()
        .map(|v| format!("---\n{}", document(v)))
        .collect()
}

fn pad(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

fn write_map(out: &mut String, map: &serde_json::Map<String, Value>, indent: usize) {
    for (key, value) in map {
        pad(out, indent);
        out.push_str(&string(key));
        out.push(':');
        write_after_key(out, value, indent);
    }
}

/// A value after `key:` (or after `- ` for a list item that is not a map).
fn write_after_key(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            write_map(out, map, indent + 2);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            write_list(out, items, indent + 2);
        }
        Value::String(s) if literal_block(s) => {
            out.push_str(if s.ends_with('\n') { " |\n" } else { " |-\n" });
            for line in s.lines() {
                if !line.is_empty() {
                    pad(out, indent + 2);
                    out.push_str(line);
                }
                out.push('\n');
            }
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

fn write_list(out: &mut String, items: &[Value], indent: usize) {
    for item in items {
        pad(out, indent);
        out.push('-');
        match item {
            Value::Object(map) if !map.is_empty() => {
                // The map's first key goes on the dash's line.
                let mut inner = String::new();
                write_map(&mut inner, map, indent + 2);
                out.push_str(&inner[indent + 1..]);
            }
            other => write_after_key(out, other, indent),
        }
    }
}

/// Whether `s` reads back exactly as a literal block: several lines, the
/// first not indented, no trailing blank lines beyond one newline, and
/// only characters YAML prints as they are and does not take for a line
/// break.
fn literal_block(s: &str) -> bool {
    s.contains('\n')
        && !s.starts_with([' ', '\t', '\n'])
        && !s.ends_with("\n\n")
        && s.chars().all(|c| c == '\n' || as_is(c))
        && s.lines().all(|l| !l.ends_with([' ', '\t']))
}

/// Whether YAML reads `c` back as itself inside a scalar: printable, and
/// not one of the characters it takes for a line break (NEL, U+2028,
/// U+2029) or a byte order mark.
fn as_is(c: char) -> bool {
    match c {
        '\t' | ' '..='~' => true,
        '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{FEFF}' | '\u{FFFE}' | '\u{FFFF}' => false,
        c => !c.is_control() && u32::from(c) >= 0xA0,
    }
}

/// `s` double-quoted, every character YAML would not read back as itself
/// escaped (`\uXXXX`, a form YAML shares with JSON).
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if as_is(c) => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04X}"));
                }
            }
        }
    }
    out.push('"');
    out
}

fn scalar(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s),
        Value::Array(_) => "[]".to_owned(),
        Value::Object(_) => "{}".to_owned(),
    }
}

/// A string as a plain scalar where YAML reads it back as that same
/// string, else double-quoted.
fn string(s: &str) -> String {
    let plain_chars = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | ':'));
    let first_ok = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '/');
    let reserved = matches!(
        s.to_ascii_lowercase().as_str(),
        "y" | "n" | "yes" | "no" | "true" | "false" | "on" | "off" | "null"
    );
    if plain_chars && first_ok && !reserved && !s.ends_with(':') && !s.contains(": ") {
        s.to_owned()
    } else {
        quoted(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn maps_lists_and_blocks_are_written_block_style() {
        let v = json!({
            "kind": "ConfigMap",
            "data": { "a.cfg": "line 1\n  indented\n\nlast\n", "n": "5432", "size": "5" },
            "list": [ { "name": "x", "port": 80 }, "on", "plain" ],
            "empty": {},
        });
        let want = "data:\n  a.cfg: |\n    line 1\n      indented\n\n    last\n  \"n\": \"5432\"\n  size: \"5\"\n\
                    empty: {}\nkind: ConfigMap\nlist:\n  - name: x\n    port: 80\n  - \"on\"\n  - plain\n";
        assert_eq!(document(&v), want);
    }

    proptest::proptest! {
        /// Whatever the text (keys too), a YAML reader gets it back.
        #[test]
        fn every_string_reads_back_as_itself(key in "\\PC{0,12}", text in "(\\PC|\\s){0,40}") {
            let doc = document(&json!({ "k": text, "m": { key.clone(): [text.clone()] } }));
            let back: serde_json::Value = serde_yaml::from_str(&doc).expect("YAML");
            proptest::prop_assert_eq!(&back["k"], &json!(text), "{}", doc);
            proptest::prop_assert_eq!(&back["m"][&key][0], &json!(text), "{}", doc);
        }
    }

    #[test]
    fn strings_that_would_read_back_otherwise_are_quoted() {
        for s in [
            "", "true", "No", "null", "1.5", "-x", "a: b", "x:", "#c", "*a", "{}", "sh -c",
        ] {
            assert!(string(s).starts_with('"'), "{s:?} -> {}", string(s));
        }
        for s in [
            "nginx",
            "web-01",
            "/etc/topolab/app.json",
            "v1.2",
            "IfNotPresent",
        ] {
            assert_eq!(string(s), s);
        }
        // Characters YAML takes for line breaks or does not print are
        // escaped, inside a block's text too.
        assert_eq!(
            string("a\u{85}b\u{2028}c\u{7f}"),
            "\"a\\u0085b\\u2028c\\u007F\""
        );
        assert!(scalar(&json!("x\u{2028}y\nz\n")).starts_with('"'));
        assert_eq!(
            string("tab\there \"q\" \\"),
            "\"tab\\there \\\"q\\\" \\\\\""
        );
        // Text a block would change is quoted instead.
        assert!(scalar(&json!(" lead\nx\n")).starts_with('"'));
        assert!(scalar(&json!("a\n\n")).starts_with('"'));
    }
}
