//! YAML documents as JSON values, so every source is read with one set of accessors. Tags
//! become the JSON form CloudFormation gives them: `!Ref x` is `{"Ref": "x"}`, `!Sub s` is
//! `{"Fn::Sub": s}`, `!GetAtt a.b` is `{"Fn::GetAtt": ["a", "b"]}`.

use serde::Deserialize;
use serde_json::{Map, Value};

/// Every document of a (multi-document) YAML text. The error names the origin and the line.
pub fn documents(text: &str, origin: &str) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    for document in yaml_serde::Deserializer::from_str(text) {
        let value = yaml_serde::Value::deserialize(document).map_err(|e| format!("{origin}: not valid YAML: {e}"))?;
        if !value.is_null() {
            out.push(to_json(value));
        }
    }
    Ok(out)
}

/// What a key that is a list, a mapping or a tagged value becomes.
const COMPLEX_KEY: &str = "<complex key>";

fn to_json(value: yaml_serde::Value) -> Value {
    use yaml_serde::Value as Y;
    match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64().and_then(serde_json::Number::from_f64).map_or(Value::Null, Value::Number)
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(to_json).collect()),
        Y::Mapping(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let key = match k {
                    Y::String(s) => s,
                    scalar @ (Y::Null | Y::Bool(_) | Y::Number(_)) => {
                        serde_json::to_string(&to_json(scalar)).unwrap_or_default()
                    }
                    // No rule or SLO format has a list or mapping as a key; as JSON text it would
                    // be escaped again at every level, doubling in size (a key of a key of a key).
                    _ => COMPLEX_KEY.to_string(),
                };
                out.insert(key, to_json(v));
            }
            Value::Object(out)
        }
        Y::Tagged(tagged) => {
            let name = tagged.tag.to_string();
            let name = name.trim_start_matches('!');
            let inner = to_json(tagged.value);
            let (key, inner) = match name {
                "Ref" | "Condition" => (name.to_string(), inner),
                "GetAtt" => {
                    let parts = match inner {
                        Value::String(s) => s.split('.').map(|p| Value::String(p.to_string())).collect(),
                        other => vec![other],
                    };
                    ("Fn::GetAtt".into(), Value::Array(parts))
                }
                other => (format!("Fn::{other}"), inner),
            };
            let mut map = Map::new();
            map.insert(key, inner);
            Value::Object(map)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_that_are_mappings_do_not_grow_with_their_depth() {
        let text = format!("{}{}\n", "{".repeat(40), "}".repeat(40));
        let started = std::time::Instant::now();
        let docs = super::documents(&text, "keys.yaml").unwrap();
        assert!(started.elapsed().as_secs() < 5);
        assert!(docs[0].as_object().unwrap().contains_key(super::COMPLEX_KEY), "{}", docs[0]);
        let scalars = super::documents("1: a\ntrue: b\n~: c\n", "scalars.yaml").unwrap();
        let keys: Vec<&String> = scalars[0].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["1", "true", "null"]);
    }

    use super::*;

    #[test]
    fn documents_and_cloudformation_tags() {
        let text = "a: 1\nb: !Ref Threshold\nc: !Sub '${Env}-errors'\nd: !GetAtt Queue.Arn\n---\nx: [1.5, true]\n";
        let docs = documents(text, "t.yaml").unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0]["b"], serde_json::json!({"Ref": "Threshold"}));
        assert_eq!(docs[0]["c"], serde_json::json!({"Fn::Sub": "${Env}-errors"}));
        assert_eq!(docs[0]["d"], serde_json::json!({"Fn::GetAtt": ["Queue", "Arn"]}));
        assert_eq!(docs[1]["x"], serde_json::json!([1.5, true]));
        let err = documents("a: [1, 2\n", "bad.yaml").unwrap_err();
        assert!(err.starts_with("bad.yaml: not valid YAML"), "{err}");
    }
}
