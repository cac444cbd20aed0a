//! Type-checking documents against a stored mapping, and growing it dynamically, so that the
//! item-level parse errors of D.6 (`mapper_parsing_exception`, `document_parsing_exception`,
//! `strict_dynamic_mapping_exception`) come from real rules rather than scripts.

use serde_json::{Map, Value, json};

/// Why a document was rejected: the ES error type and reason.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseFailure {
    /// `mapper_parsing_exception`, `document_parsing_exception` or
    /// `strict_dynamic_mapping_exception`.
    pub kind: &'static str,
    /// ES's reason text.
    pub reason: String,
}

/// Checks `doc` against `mappings` (the `{"properties":{..},"dynamic":..}` object) and adds
/// dynamic mappings for new fields unless the mapping is strict. `modern_errors` selects ES ≥ 8.8's
/// `document_parsing_exception` over ES 7's `mapper_parsing_exception` (D.6 table).
pub fn check_and_extend(
    mappings: &mut Value,
    doc: &Value,
    doc_id: &str,
    modern_errors: bool,
) -> Result<(), ParseFailure> {
    let Value::Object(fields) = doc else {
        return Err(ParseFailure {
            kind: if modern_errors {
                "document_parsing_exception"
            } else {
                "mapper_parsing_exception"
            },
            reason: "failed to parse, document is empty or not an object".into(),
        });
    };
    // Work on a copy: a failed document must not leave mapping changes behind.
    let mut candidate = mappings.clone();
    check_object(&mut candidate, fields, "", "_doc", doc_id, modern_errors)?;
    *mappings = candidate;
    Ok(())
}

fn check_object(
    mapping: &mut Value,
    fields: &Map<String, Value>,
    prefix: &str,
    within: &str,
    doc_id: &str,
    modern: bool,
) -> Result<(), ParseFailure> {
    let strict = mapping.get("dynamic").and_then(Value::as_str) == Some("strict");
    if !mapping.is_object() {
        *mapping = json!({});
    }
    for (name, value) in fields {
        if value.is_null() {
            continue;
        }
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        let existing = mapping.get("properties").and_then(|p| p.get(name)).cloned();
        match existing {
            Some(mut field_mapping) => {
                check_value(&mut field_mapping, value, &path, name, doc_id, modern)?;
                set_property(mapping, name, field_mapping);
            }
            None if strict => {
                return Err(ParseFailure {
                    kind: "strict_dynamic_mapping_exception",
                    reason: format!(
                        "mapping set to strict, dynamic introduction of [{name}] within [{within}] is not allowed"
                    ),
                });
            }
            None => {
                let mut dynamic = dynamic_mapping(value);
                // Check nested objects too, so their own children get mapped.
                check_value(&mut dynamic, value, &path, name, doc_id, modern)?;
                set_property(mapping, name, dynamic);
            }
        }
    }
    Ok(())
}

fn set_property(mapping: &mut Value, name: &str, field_mapping: Value) {
    if let Some(object) = mapping.as_object_mut() {
        let properties = object
            .entry("properties")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(p) = properties.as_object_mut() {
            p.insert(name.to_owned(), field_mapping);
        }
    }
}

/// The mapping ES's dynamic mapping gives a new field.
fn dynamic_mapping(value: &Value) -> Value {
    match value {
        Value::Bool(_) => json!({"type": "boolean"}),
        Value::Number(n) if n.is_i64() || n.is_u64() => json!({"type": "long"}),
        Value::Number(_) => json!({"type": "float"}),
        Value::String(_) => {
            json!({"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}})
        }
        Value::Object(_) => json!({"properties": {}}),
        Value::Array(items) => items
            .iter()
            .find(|v| !v.is_null())
            .map(dynamic_mapping)
            .unwrap_or_else(|| json!({"type": "text"})),
        Value::Null => json!({"type": "text"}),
    }
}

fn check_value(
    field_mapping: &mut Value,
    value: &Value,
    path: &str,
    name: &str,
    doc_id: &str,
    modern: bool,
) -> Result<(), ParseFailure> {
    if let Value::Array(items) = value {
        // ES arrays are implicit: each element must fit the field's mapping.
        for item in items {
            check_value(field_mapping, item, path, name, doc_id, modern)?;
        }
        return Ok(());
    }
    let kind = field_mapping
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("object")
        .to_owned();
    let fail = |ty: &str| ParseFailure {
        kind: if modern {
            "document_parsing_exception"
        } else {
            "mapper_parsing_exception"
        },
        reason: if modern {
            format!(
                "[1:1] failed to parse field [{path}] of type [{ty}] in document with id '{doc_id}'. Preview of field's value: '{value}'"
            )
        } else {
            format!(
                "failed to parse field [{path}] of type [{ty}] in document with id '{doc_id}'. Preview of field's value: '{value}'"
            )
        },
    };
    let ok = match kind.as_str() {
        "long" | "integer" | "short" | "byte" => match value {
            Value::Number(n) => {
                n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
            }
            // ES coerces numeric strings by default.
            Value::String(s) => s.trim().parse::<i64>().is_ok(),
            _ => false,
        },
        "float" | "double" | "half_float" | "scaled_float" => match value {
            Value::Number(_) => true,
            Value::String(s) => s.trim().parse::<f64>().is_ok(),
            _ => false,
        },
        "boolean" => {
            matches!(value, Value::Bool(_)) || matches!(value.as_str(), Some("true" | "false" | ""))
        }
        "date" => matches!(value, Value::Number(_) | Value::String(_)),
        "text" | "keyword" | "binary" => !value.is_object(),
        "object" | "nested" => match value {
            Value::Object(children) => {
                return check_object(field_mapping, children, path, name, doc_id, modern);
            }
            _ => {
                return Err(ParseFailure {
                    kind: if modern {
                        "document_parsing_exception"
                    } else {
                        "mapper_parsing_exception"
                    },
                    reason: format!(
                        "object mapping for [{path}] tried to parse field [{name}] as object, but found a concrete value"
                    ),
                });
            }
        },
        _ => true,
    };
    if ok { Ok(()) } else { Err(fail(&kind)) }
}

/// Whether `new` changes the type of any field already in `current` (D.5: 400
/// `illegal_argument_exception` "mapper [f] cannot be changed from type [long] to [text]").
pub fn conflicting_field(current: &Value, new: &Value, prefix: &str) -> Option<String> {
    let new_props = new.get("properties")?.as_object()?;
    let current_props = current.get("properties").and_then(Value::as_object);
    for (name, mapping) in new_props {
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        let Some(old) = current_props.and_then(|p| p.get(name)) else {
            continue;
        };
        let old_type = old.get("type").and_then(Value::as_str).unwrap_or("object");
        let new_type = mapping
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("object");
        if old_type != new_type {
            return Some(format!(
                "mapper [{path}] cannot be changed from type [{old_type}] to [{new_type}]"
            ));
        }
        if let Some(conflict) = conflicting_field(old, mapping, &path) {
            return Some(conflict);
        }
    }
    None
}

/// Merges `new` properties into `current` (after [`conflicting_field`] found none).
pub fn merge(current: &mut Value, new: &Value) {
    if !current.is_object() {
        *current = json!({});
    }
    if let (Some(target), Some(source)) = (current.as_object_mut(), new.as_object()) {
        for (key, value) in source {
            if key == "properties" {
                let props = target
                    .entry("properties")
                    .or_insert_with(|| Value::Object(Map::new()));
                if let (Some(p), Some(new_props)) = (props.as_object_mut(), value.as_object()) {
                    for (name, mapping) in new_props {
                        match p.get_mut(name) {
                            Some(old) => merge(old, mapping),
                            None => {
                                p.insert(name.clone(), mapping.clone());
                            }
                        }
                    }
                }
            } else {
                target.insert(key.clone(), value.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamic_mapping_then_type_mismatch() {
        let mut m = json!({});
        check_and_extend(&mut m, &json!({"age": 3, "name": "x"}), "1", false).unwrap();
        assert_eq!(m["properties"]["age"]["type"], "long");
        let e = check_and_extend(&mut m, &json!({"age": "old"}), "2", false).unwrap_err();
        assert_eq!(e.kind, "mapper_parsing_exception");
        assert!(
            e.reason
                .starts_with("failed to parse field [age] of type [long]")
        );
        let e = check_and_extend(&mut m, &json!({"age": "old"}), "2", true).unwrap_err();
        assert_eq!(e.kind, "document_parsing_exception");
        // Numeric strings are coerced, as in ES.
        check_and_extend(&mut m, &json!({"age": "42"}), "3", false).unwrap();
    }

    #[test]
    fn strict_mapping_rejects_new_fields_and_keeps_mapping_unchanged() {
        let mut m = json!({"dynamic": "strict", "properties": {"a": {"type": "long"}}});
        let e = check_and_extend(&mut m, &json!({"a": 1, "x": 2}), "1", false).unwrap_err();
        assert_eq!(e.kind, "strict_dynamic_mapping_exception");
        assert_eq!(
            e.reason,
            "mapping set to strict, dynamic introduction of [x] within [_doc] is not allowed"
        );
        assert!(m["properties"].get("x").is_none());
    }

    #[test]
    fn conflicting_mapping_is_named() {
        let current = json!({"properties": {"f": {"type": "long"}}});
        let new = json!({"properties": {"f": {"type": "text"}}});
        assert_eq!(
            conflicting_field(&current, &new, "").as_deref(),
            Some("mapper [f] cannot be changed from type [long] to [text]")
        );
    }
}
