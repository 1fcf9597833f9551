//! Items of a DynamoDB table, such as the SLO registry teams keep there: DescribeTable for its
//! key, then Scan, every page, each item as named JSON values.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::aws::{Aws, Error, call_error};

/// One item: attribute name to value (S as a string, N as a number, BOOL, NULL, L and sets as
/// arrays, M as an object, B as base64 text).
pub type Item = BTreeMap<String, serde_json::Value>;

/// Items read before the table is refused as too large to be a registry.
pub const MAX_ITEMS: usize = 100_000;
/// DynamoDB nests documents at most 32 levels; anything deeper did not come from it.
const MAX_DEPTH: usize = 32;

/// Every item of `table`, each named by its key (`pk=SLO#checkout, sk=TENANT#acme`), in scan order.
pub async fn items(aws: &Aws, table: &str) -> Result<Vec<(String, Item)>, Error> {
    let client = aws.dynamodb();
    let described =
        client.describe_table().table_name(table).send().await.map_err(|e| call_error("DescribeTable", table, e))?;
    let key: Vec<String> = described
        .table()
        .map(|t| t.key_schema().iter().map(|k| k.attribute_name().to_string()).collect())
        .unwrap_or_default();
    let mut pages = client.scan().table_name(table).into_paginator().send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| call_error("Scan", table, e))?;
        for item in page.items() {
            if out.len() == MAX_ITEMS {
                return Err(Error::Input(format!(
                    "dynamodb:{table} holds more than {MAX_ITEMS} items: that is not an SLO registry"
                )));
            }
            let item: Item = item.iter().map(|(k, v)| (k.clone(), json_of(v, 0))).collect();
            out.push((key_of(&key, &item), item));
        }
    }
    Ok(out)
}

fn key_of(key: &[String], item: &Item) -> String {
    let parts: Vec<String> = key
        .iter()
        .map(|k| match item.get(k) {
            Some(serde_json::Value::String(s)) => format!("{k}={s}"),
            Some(other) => format!("{k}={other}"),
            None => format!("{k}=?"),
        })
        .collect();
    parts.join(", ")
}

/// A DynamoDB value as JSON. A number too large for JSON's numbers stays text.
fn json_of(value: &AttributeValue, depth: usize) -> serde_json::Value {
    use serde_json::Value;
    if depth > MAX_DEPTH {
        return Value::Null;
    }
    let number = |n: &str| n.parse::<serde_json::Number>().map_or_else(|_| Value::String(n.to_string()), Value::Number);
    match value {
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => number(n),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::Ss(list) => list.iter().map(|s| Value::String(s.clone())).collect(),
        AttributeValue::Ns(list) => list.iter().map(|n| number(n)).collect(),
        AttributeValue::L(list) => list.iter().map(|v| json_of(v, depth + 1)).collect(),
        AttributeValue::M(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), json_of(v, depth + 1))).collect()),
        AttributeValue::B(blob) => Value::String(base64_of(blob.as_ref())),
        AttributeValue::Bs(list) => list.iter().map(|b| Value::String(base64_of(b.as_ref()))).collect(),
        _ => Value::Null,
    }
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_become_json_and_depth_is_bounded() {
        let n = |s: &str| AttributeValue::N(s.into());
        assert_eq!(json_of(&n("99.9"), 0), serde_json::json!(99.9));
        assert_eq!(json_of(&n("1e400"), 0), serde_json::json!("1e400"));
        let nested = (0..100).fold(AttributeValue::S("deep".into()), |v, _| AttributeValue::L(vec![v]));
        let json = json_of(&nested, 0).to_string();
        assert!(json.contains("null") && !json.contains("deep"), "{json}");
        let item: Item = [("pk".to_string(), serde_json::json!("SLO#checkout"))].into();
        assert_eq!(key_of(&["pk".into(), "sk".into()], &item), "pk=SLO#checkout, sk=?");
    }
}
