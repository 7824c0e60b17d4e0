//! A block-style YAML emitter for JSON values that quotes every string a YAML 1.1 reader
//! (Kubernetes' `sigs.k8s.io/yaml` via go-yaml, PyYAML) could read as something other than
//! that string.
//!
//! `serde_yaml` 0.9 writes YAML 1.2 and leaves `on`, `off`, `yes`, `no`, `y`, `n` unquoted;
//! YAML 1.1 readers turn them into booleans, and an annotation value `on` then fails
//! validation ("True is not of type 'string'"). So strings are written plain only when they
//! are obviously strings in both versions; otherwise double-quoted (or as a literal block
//! when they span lines).

use serde_json::Value;

/// The value as a YAML document (no `---`), ending with a newline.
pub(crate) fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => write_map(map, 0, &mut out),
        Value::Array(items) if !items.is_empty() => write_seq(items, 0, &mut out),
        scalar => {
            write_inline(scalar, 0, &mut out);
            out.push('\n');
        }
    }
    out
}

fn pad(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

fn is_block(value: &Value) -> bool {
    match value {
        Value::Object(m) => !m.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => false,
    }
}

/// Writes the entries of a non-empty map, the first one without leading indentation when
/// `first_inline` (after a `- `).
fn write_map_entries(
    map: &serde_json::Map<String, Value>,
    indent: usize,
    first_inline: bool,
    out: &mut String,
) {
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 || !first_inline {
            pad(out, indent);
        }
        write_string(key, indent, true, out);
        out.push(':');
        match value {
            Value::Object(m) if !m.is_empty() => {
                out.push('\n');
                write_map(m, indent + 2, out);
            }
            Value::Array(a) if !a.is_empty() => {
                out.push('\n');
                write_seq(a, indent, out);
            }
            scalar => {
                out.push(' ');
                write_inline(scalar, indent + 2, out);
                out.push('\n');
            }
        }
    }
}

fn write_map(map: &serde_json::Map<String, Value>, indent: usize, out: &mut String) {
    write_map_entries(map, indent, false, out);
}

fn write_seq(items: &[Value], indent: usize, out: &mut String) {
    for item in items {
        pad(out, indent);
        out.push('-');
        match item {
            Value::Object(m) if !m.is_empty() => {
                out.push(' ');
                write_map_entries(m, indent + 2, true, out);
            }
            Value::Array(a) if !a.is_empty() => {
                out.push('\n');
                write_seq(a, indent + 2, out);
            }
            scalar => {
                out.push(' ');
                write_inline(scalar, indent + 2, out);
                out.push('\n');
            }
        }
    }
}

/// A scalar or an empty collection, on the current line (a literal block continues on the
/// next lines, indented by `indent`).
fn write_inline(value: &Value, indent: usize, out: &mut String) {
    debug_assert!(!is_block(value));
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_string(s, indent, false, out),
        Value::Array(_) => out.push_str("[]"),
        Value::Object(_) => out.push_str("{}"),
    }
}

fn write_string(s: &str, indent: usize, key: bool, out: &mut String) {
    if is_plain_safe(s) {
        out.push_str(s);
    } else if !key && is_literal_safe(s) {
        let body = s.trim_end_matches('\n');
        let trailing = s.len() - body.len();
        out.push_str(match trailing {
            0 => "|-",
            1 => "|",
            _ => "|+",
        });
        for line in body.split('\n') {
            out.push('\n');
            if !line.is_empty() {
                pad(out, indent);
                out.push_str(line);
            }
        }
        // The caller ends the line; `|+` keeps the further newlines.
        for _ in 1..trailing {
            out.push('\n');
        }
    } else {
        write_double_quoted(s, out);
    }
}

/// Plain only when no YAML 1.1 or 1.2 reader can take it for anything but this string.
fn is_plain_safe(s: &str) -> bool {
    const RESERVED: [&str; 12] = [
        "y", "n", "yes", "no", "true", "false", "on", "off", "null", "~", "<<", "=",
    ];
    let Some(first) = s.chars().next() else {
        return false;
    };
    if !(first.is_ascii_alphanumeric() || first == '/') {
        return false;
    }
    if s.ends_with(':') || RESERVED.iter().any(|r| r.eq_ignore_ascii_case(s)) {
        return false;
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./=,@:".contains(c))
    {
        return false;
    }
    // Numbers, dates, times, hex, octal, sexagesimal: anything starting with a digit whose
    // letters could all belong to a number.
    let numeric_letters_only = !s
        .chars()
        .any(|c| c.is_ascii_alphabetic() && !"eExXoObB".contains(c));
    if first.is_ascii_digit()
        && (numeric_letters_only || s.starts_with("0x") || s.starts_with("0X"))
    {
        return false;
    }
    true
}

/// A literal block keeps the text as is: it must span lines, hold only printable
/// characters (tabs allowed inside lines), start with a character that is not white space
/// (the first line sets the block's indentation), and have no line of white space only
/// (readers differ on those).
fn is_literal_safe(s: &str) -> bool {
    s.contains('\n')
        && s.starts_with(|c: char| !c.is_whitespace())
        && s.chars().all(|c| c == '\n' || c == '\t' || !c.is_control())
        && !s.contains(['\u{feff}', '\u{2028}', '\u{2029}'])
        && s.split('\n')
            .all(|line| line.is_empty() || !line.trim().is_empty())
}

fn write_double_quoted(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            // Controls, the byte-order mark and the Unicode line breaks YAML 1.1 honours.
            c if c.is_control() || matches!(c, '\u{feff}' | '\u{2028}' | '\u{2029}') => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quotes_what_yaml_1_1_would_misread() {
        let yaml = to_yaml(&json!({
            "a": "on", "b": "Off", "c": "yes", "d": "y", "e": "1e3", "f": "12:30",
            "g": "0x1F", "h": "2001-12-14", "i": "", "j": "-520", "k": "$_ip",
            "l": "20Gi", "m": "lb-123", "n": "https:443,http:80", "o": "3", "p": "4.0",
            "q": "a b", "r": ".5", "s": "null",
        }));
        assert_eq!(
            yaml,
            "a: \"on\"\nb: \"Off\"\nc: \"yes\"\nd: \"y\"\ne: \"1e3\"\nf: \"12:30\"\n\
             g: \"0x1F\"\nh: \"2001-12-14\"\ni: \"\"\nj: \"-520\"\nk: \"$_ip\"\nl: 20Gi\n\
             m: lb-123\n\"n\": https:443,http:80\no: \"3\"\np: \"4.0\"\nq: \"a b\"\nr: \".5\"\n\
             s: \"null\"\n"
        );
    }

    #[test]
    fn nesting_and_blocks() {
        let yaml = to_yaml(&json!({
            "spec": {"ports": [{"name": "tcp-80", "port": 80}, {"port": 81}], "empty": {}},
            "list": [[1, 2], []],
            "text": "line1\n  line2\n\nend\n",
            "flag": true,
        }));
        assert_eq!(
            yaml,
            "spec:\n  ports:\n  - name: tcp-80\n    port: 80\n  - port: 81\n  empty: {}\n\
             list:\n-\n  - 1\n  - 2\n- []\ntext: |\n  line1\n    line2\n\n  end\nflag: true\n"
        );
        let back: Value = serde_yaml::from_str(&yaml).unwrap();
        assert_eq!(back["text"], "line1\n  line2\n\nend\n");
    }

    #[test]
    fn awkward_multi_line_strings_are_double_quoted() {
        for s in ["\t\n", "a\u{2028}\nb", " a\nb", "a\n  \nb", "a\r\nb", "\na"] {
            let yaml = to_yaml(&json!({ "k": s }));
            assert!(yaml.starts_with("k: \""), "{yaml}");
            let back: Value = serde_yaml::from_str(&yaml).unwrap();
            assert_eq!(back["k"], s);
        }
        let yaml = to_yaml(&json!({ "k": "a\n\n\n" }));
        assert_eq!(yaml, "k: |+\n  a\n\n\n");
        let back: Value = serde_yaml::from_str(&yaml).unwrap();
        assert_eq!(back["k"], "a\n\n\n");
    }
}
