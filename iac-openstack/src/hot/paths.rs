//! Paths and names in HOT terms: iac-core validates the IR and reports ROS paths
//! (`Resources.server.Properties.networks[0].Fn::GetAtt`); HOT users read
//! `resources.server.properties.networks[0].get_attr`.

use indexmap::IndexMap;

/// The IR function each HOT function becomes, and back. One IR function per HOT function,
/// so that paths and messages can be written back.
pub(crate) const FUNCTION_NAMES: &[(&str, &str)] = &[
    ("get_attr", "Fn::GetAtt"),
    ("get_param", "Fn::GetPath"),
    ("str_replace", "Fn::StrReplace"),
    ("str_replace_strict", "Fn::StrReplaceStrict"),
    ("str_replace_vstrict", "Fn::StrReplaceVStrict"),
    ("list_join", "Fn::ListJoin"),
    ("str_split", "Fn::StrSplit"),
    ("repeat", "Fn::Repeat"),
    ("map_merge", "Fn::MapMerge"),
    ("equals", "Fn::EqualsStrict"),
    ("and", "Fn::And"),
    ("or", "Fn::Or"),
    ("not", "Fn::Not"),
    ("if", "Fn::If"),
    ("list_concat", "Fn::ListConcat"),
    ("list_concat_unique", "Fn::ListConcatUnique"),
    ("contains", "Fn::Contains"),
    ("filter", "Fn::Filter"),
    ("map_replace", "Fn::MapReplace"),
    ("digest", "Fn::Digest"),
];

/// The IR keys of resources and outputs and their HOT names.
const KEY_NAMES: &[(&str, &str)] = &[
    ("Type", "type"),
    ("Properties", "properties"),
    ("DependsOn", "depends_on"),
    ("Condition", "condition"),
    ("DeletionPolicy", "deletion_policy"),
    ("ExternalId", "external_id"),
    ("Metadata", "metadata"),
    ("UpdatePolicy", "update_policy"),
    ("Value", "value"),
    ("Description", "description"),
];

const SECTION_NAMES: &[(&str, &str)] = &[
    ("Resources", "resources"),
    ("Parameters", "parameters"),
    ("Outputs", "outputs"),
    ("Conditions", "conditions"),
];

fn lookup<'a>(table: &[(&'a str, &'a str)], ir: &str) -> Option<&'a str> {
    table
        .iter()
        .find(|(from, _)| *from == ir)
        .map(|(_, to)| *to)
}

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(String),
}

/// Splits a path written as iac-core writes it: `.key`, `["quoted key"]`, `[3]`.
fn steps(path: &str) -> Option<Vec<Step>> {
    let mut out = Vec::new();
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("[\"") {
            // A JSON string literal up to the closing quote that is not escaped.
            let mut end = None;
            let mut escaped = false;
            for (i, c) in after.char_indices() {
                match c {
                    '\\' if !escaped => escaped = true,
                    '"' if !escaped => {
                        end = Some(i);
                        break;
                    }
                    _ => escaped = false,
                }
            }
            let end = end?;
            let key: String = serde_json::from_str(&format!("\"{}\"", &after[..end])).ok()?;
            out.push(Step::Key(key));
            rest = after[end + 1..].strip_prefix(']')?;
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']')?;
            out.push(Step::Index(after[..end].to_owned()));
            rest = &after[end + 1..];
        } else {
            let body = rest.strip_prefix('.').unwrap_or(rest);
            let end = body.find(['.', '[']).unwrap_or(body.len());
            out.push(Step::Key(body[..end].to_owned()));
            rest = &body[end..];
        }
    }
    Some(out)
}

/// Appends a key the way iac-core does: `.key`, or `["key"]` when it holds a dot, a
/// bracket, a quote or white space.
pub(crate) fn push_key(out: &mut String, key: &str) {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| !matches!(c, '.' | '[' | ']' | '"' | '\'') && !c.is_whitespace());
    if plain {
        if !out.is_empty() {
            out.push('.');
        }
        out.push_str(key);
    } else {
        out.push('[');
        out.push_str(&serde_json::Value::String(key.to_owned()).to_string());
        out.push(']');
    }
}

/// `base` followed by `key`.
pub(crate) fn join_key(base: &str, key: &str) -> String {
    let mut out = base.to_owned();
    push_key(&mut out, key);
    out
}

/// `base[index]`.
pub(crate) fn join_index(base: &str, index: usize) -> String {
    format!("{base}[{index}]")
}

/// The HOT path of an IR path. `hoisted` maps the names of conditions the import made up
/// (for inline conditions) to the HOT path where the condition was written.
pub(crate) fn hot_path(ir_path: &str, hoisted: &IndexMap<String, String>) -> String {
    let Some(steps) = steps(ir_path) else {
        return ir_path.to_owned();
    };
    let mut out = String::new();
    let mut rest = steps.as_slice();
    if let [Step::Key(section), Step::Key(name), tail @ ..] = rest {
        if section == "Conditions"
            && let Some(origin) = hoisted.get(name)
        {
            out.push_str(origin);
            rest = tail;
        } else if let Some(hot) = lookup(SECTION_NAMES, section) {
            push_key(&mut out, hot);
            push_key(&mut out, name);
            rest = tail;
            if matches!(section.as_str(), "Resources" | "Outputs")
                && let [Step::Key(key), tail @ ..] = rest
                && let Some(hot) = lookup(KEY_NAMES, key)
            {
                push_key(&mut out, hot);
                rest = tail;
            }
        }
    }
    for step in rest {
        match step {
            Step::Index(i) => {
                out.push('[');
                out.push_str(i);
                out.push(']');
            }
            // A bare condition name stands for itself in HOT.
            Step::Key(key) if key == "Condition" => {}
            Step::Key(key) => {
                let hot = FUNCTION_NAMES
                    .iter()
                    .find(|(_, ir)| ir == key)
                    .map_or(key.as_str(), |(hot, _)| *hot);
                push_key(&mut out, hot);
            }
        }
    }
    out
}

/// A validation message in HOT words: IR function and key names become HOT ones.
pub(crate) fn hot_message(message: &str) -> String {
    let mut out = message
        .replace("DependsOn names", "depends_on names")
        .replace("key 'UpdatePolicy'", "key 'update_policy'");
    // Longer names first, so that `Fn::StrReplaceStrict` is not read as `Fn::StrReplace`.
    let mut names: Vec<&(&str, &str)> = FUNCTION_NAMES.iter().collect();
    names.sort_by_key(|(_, ir)| std::cmp::Reverse(ir.len()));
    for (hot, ir) in names {
        out = out.replace(ir, hot);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ir_paths_read_as_hot_paths() {
        let hoisted = IndexMap::from([(
            "resources.vm.condition".to_owned(),
            "resources.vm.condition".to_owned(),
        )]);
        for (ir, hot) in [
            (
                "Resources.server.Properties.networks[0].Fn::GetAtt",
                "resources.server.properties.networks[0].get_attr",
            ),
            ("Resources.server.DependsOn", "resources.server.depends_on"),
            ("Resources[\"a.b\"].Type", "resources[\"a.b\"].type"),
            (
                "Outputs.ip.Value.Fn::ListJoin[1]",
                "outputs.ip.value.list_join[1]",
            ),
            (
                "Conditions.prod.Fn::And[0].Fn::EqualsStrict[0]",
                "conditions.prod.and[0].equals[0]",
            ),
            (
                "Conditions[\"resources.vm.condition\"].Fn::Not",
                "resources.vm.condition.not",
            ),
            ("Conditions.alias.Condition", "conditions.alias"),
            ("Parameters.flavor", "parameters.flavor"),
            (
                "Resources.x.Properties.Fn::Join[1]",
                "resources.x.properties.Fn::Join[1]",
            ),
            ("", ""),
        ] {
            assert_eq!(hot_path(ir, &hoisted), hot, "{ir}");
        }
        // Not a path iac-core writes: kept as it is.
        assert_eq!(hot_path("Resources[\"open", &hoisted), "Resources[\"open");
    }

    #[test]
    fn messages_use_hot_names() {
        assert_eq!(
            hot_message("Fn::StrReplaceStrict takes x; Fn::GetAtt to unknown resource 'a'"),
            "str_replace_strict takes x; get_attr to unknown resource 'a'"
        );
        assert_eq!(
            hot_message("DependsOn names unknown resource 'g'"),
            "depends_on names unknown resource 'g'"
        );
        assert_eq!(
            hot_message("key 'UpdatePolicy' is not supported on a resource"),
            "key 'update_policy' is not supported on a resource"
        );
    }

    #[test]
    fn keys_are_quoted_like_iac_core_quotes_them() {
        assert_eq!(join_key("", "resources"), "resources");
        assert_eq!(join_key("resources", "a b"), "resources[\"a b\"]");
        assert_eq!(join_index("x", 2), "x[2]");
    }
}
