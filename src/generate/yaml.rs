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
/// only printable characters.
fn literal_block(s: &str) -> bool {
    s.contains('\n')
        && !s.starts_with([' ', '\t', '\n'])
        && !s.ends_with("\n\n")
        && !s.contains('\r')
        && s.chars().all(|c| c == '\n' || c == '\t' || !c.is_control())
        && s.lines().all(|l| !l.ends_with([' ', '\t']))
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
        serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
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
        // Text a block would change is quoted instead.
        assert!(scalar(&json!(" lead\nx\n")).starts_with('"'));
        assert!(scalar(&json!("a\n\n")).starts_with('"'));
    }
}
