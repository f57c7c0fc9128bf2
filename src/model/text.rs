//! Text that came from a file, made safe to print: a topology file can
//! hold any character in a name, and a terminal obeys control characters.

use std::borrow::Cow;
use std::fmt::{self, Write};

/// Whether printing `c` raw could change what a terminal shows beyond the
/// character itself: C0 and C1 control characters (escape sequences, line
/// breaks, carriage returns), DEL, line and paragraph separators, the
/// bidirectional overrides and isolates that reorder a line, and invisible
/// formatting characters that make two different names look the same.
pub fn is_unsafe_char(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}'
        | '\u{7f}'..='\u{9f}'
        | '\u{ad}'
        | '\u{34f}'
        | '\u{61c}'
        | '\u{115f}'..='\u{1160}'
        | '\u{17b4}'..='\u{17b5}'
        | '\u{180b}'..='\u{180f}'
        | '\u{200b}'..='\u{200f}'
        | '\u{2028}'..='\u{202e}'
        | '\u{2060}'..='\u{206f}'
        | '\u{3164}'
        | '\u{fe00}'..='\u{fe0f}'
        | '\u{feff}'
        | '\u{ffa0}'
        | '\u{fff9}'..='\u{fffb}'
        | '\u{e0000}'..='\u{e0fff}'
    )
}

/// Whether `c` is a control character (C0, DEL, C1), a line or paragraph
/// separator, or a bidirectional control: the characters that have no
/// place in one line of plain text. Unlike [`is_unsafe_char`], joiners and
/// variation selectors (parts of emoji) are not among them.
pub fn is_control_or_bidi(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}'
        | '\u{7f}'..='\u{9f}'
        | '\u{61c}'
        | '\u{200e}'..='\u{200f}'
        | '\u{2028}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}'
    )
}

/// `text` with every character of [`is_unsafe_char`] written as an escape
/// (`\n`, `\t`, `\r`, or `\u{1b}`), so it prints on one line and does
/// exactly what it says. Text without such characters is borrowed as is.
pub fn escape_unsafe(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        push_char(&mut out, c);
    }
    Cow::Owned(out)
}

fn push_char(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if is_unsafe_char(c) => {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
        c => out.push(c),
    }
}

/// Displays its text with [`escape_unsafe`] applied: `format!("{}",
/// Shown(name))` is safe to print whatever `name` holds.
#[derive(Clone, Copy, Debug)]
pub struct Shown<'a>(pub &'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&escape_unsafe(self.0))
    }
}

/// JSON text with every [`is_unsafe_char`] beyond the ASCII controls
/// written as a `\uXXXX` escape. A JSON writer escapes the ASCII controls
/// inside strings already (those left are the layout's line breaks), and
/// the others can stand only inside strings, where the escape means the
/// same character: the document is unchanged for a JSON reader, and safe
/// to show in a terminal.
pub fn escape_json(json: &str) -> Cow<'_, str> {
    let escaped = |c: char| c > '\u{1f}' && is_unsafe_char(c);
    if !json.chars().any(escaped) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if escaped(c) {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{:04x}", unit);
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_become_visible_escapes() {
        assert_eq!(escape_unsafe("web-01"), "web-01");
        assert!(matches!(escape_unsafe("web-01"), Cow::Borrowed(_)));
        assert_eq!(escape_unsafe("a\u{1b}[2Kb"), "a\\u{1b}[2Kb");
        assert_eq!(escape_unsafe("a\nvalid"), "a\\nvalid");
        assert_eq!(escape_unsafe("x\u{202e}y"), "x\\u{202e}y");
        assert_eq!(escape_unsafe("c1\u{9b}"), "c1\\u{9b}");
        assert_eq!(escape_unsafe("tab\there"), "tab\\there");
        assert_eq!(escape_unsafe("wéb"), "wéb", "printable non-ASCII stays");
        assert_eq!(Shown("\u{7}").to_string(), "\\u{7}");
    }

    #[test]
    fn plain_text_keeps_emoji_but_not_controls() {
        assert!(
            "family 👨\u{200d}👩\u{200d}👧 ☕\u{fe0f}"
                .chars()
                .all(|c| !is_control_or_bidi(c))
        );
        for c in ['\u{1b}', '\n', '\u{85}', '\u{202e}', '\u{2067}', '\u{2028}'] {
            assert!(is_control_or_bidi(c), "{c:?}");
            assert!(is_unsafe_char(c), "{c:?}");
        }
    }

    #[test]
    fn json_escapes_keep_the_value() {
        let value = serde_json::json!({ "name": "a\u{202e}b\u{1b}c\u{e0041}" });
        let text = serde_json::to_string_pretty(&value).expect("json");
        let safe = escape_json(&text);
        assert!(
            !safe.chars().any(|c| c != '\n' && is_unsafe_char(c)),
            "{safe}"
        );
        assert!(safe.contains('\n'), "the layout stays: {safe}");
        let back: serde_json::Value = serde_json::from_str(&safe).expect("still JSON");
        assert_eq!(back, value);
    }
}
