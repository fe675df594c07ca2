//! Items read straight into record types: a serde `Deserializer` over the store's values.
//! A read used to build a `serde_json::Value` tree first (every attribute name and string
//! copied, a map node per attribute), then read the record out of it; this reads the
//! record from the item itself, with what JSON would have made of each value (numbers as
//! integers or floats, binary as base64 text, string and number sets as lists).

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::de::{
    self, IntoDeserializer, Visitor,
    value::{MapAccessDeserializer, MapDeserializer, SeqDeserializer},
};

use super::Value;

type Error = serde_json::Error;

/// What is being read: a value, an item's (or a map's) attributes, or a member of a set.
#[derive(Clone, Copy)]
pub(super) enum De<'a> {
    Value(&'a Value),
    Map(&'a BTreeMap<String, Value>),
    Str(&'a str),
    Number(&'a str),
}

impl<'de> IntoDeserializer<'de, Error> for De<'de> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

/// A number's decimal text as JSON reads it: an integer when it is one, else a float,
/// else (not a number at all) the text.
fn number<'de, V: Visitor<'de>>(n: &'de str, visitor: V) -> Result<V::Value, Error> {
    if let Ok(i) = n.parse::<i64>() {
        return visitor.visit_i64(i);
    }
    if let Ok(u) = n.parse::<u64>() {
        return visitor.visit_u64(u);
    }
    match n.parse::<f64>() {
        Ok(f) if f.is_finite() => visitor.visit_f64(f),
        // Past f64's range, as JSON has no such number (DynamoDB's stop at 1e126).
        Ok(_) => visitor.visit_unit(),
        Err(_) => visitor.visit_borrowed_str(n),
    }
}

fn map<'de, V: Visitor<'de>>(
    m: &'de BTreeMap<String, Value>,
    visitor: V,
) -> Result<V::Value, Error> {
    let mut access = MapDeserializer::new(m.iter().map(|(k, v)| (k.as_str(), De::Value(v))));
    let out = visitor.visit_map(&mut access)?;
    access.end()?;
    Ok(out)
}

fn seq<'de, V, I>(items: I, visitor: V) -> Result<V::Value, Error>
where
    V: Visitor<'de>,
    I: Iterator<Item = De<'de>>,
{
    let mut access = SeqDeserializer::new(items);
    let out = visitor.visit_seq(&mut access)?;
    access.end()?;
    Ok(out)
}

impl<'de> de::Deserializer<'de> for De<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let v = match self {
            De::Map(m) => return map(m, visitor),
            De::Number(n) => return number(n, visitor),
            De::Str(s) => return visitor.visit_borrowed_str(s),
            De::Value(v) => v,
        };
        match v {
            Value::S(s) => visitor.visit_borrowed_str(s),
            Value::N(n) => number(n, visitor),
            Value::B(b) => {
                visitor.visit_string(base64::engine::general_purpose::STANDARD.encode(b))
            }
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Null => visitor.visit_unit(),
            Value::L(l) => seq(l.iter().map(De::Value), visitor),
            Value::M(m) => map(m, visitor),
            Value::Ss(s) => seq(s.iter().map(|s| De::Str(s)), visitor),
            Value::Ns(n) => seq(n.iter().map(|n| De::Number(n)), visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            De::Value(Value::Null) => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    /// A unit variant is its name; a variant with data, a map of its name to the data.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self {
            De::Value(Value::S(s)) => visitor.visit_enum(s.as_str().into_deserializer()),
            De::Str(s) => visitor.visit_enum(s.into_deserializer()),
            De::Value(Value::M(m)) | De::Map(m) => visitor.visit_enum(MapAccessDeserializer::new(
                MapDeserializer::new(m.iter().map(|(k, v)| (k.as_str(), De::Value(v)))),
            )),
            _ => self.deserialize_any(visitor),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;
    use crate::store::{Item, Key, model::to_json};

    fn item() -> Item {
        let mut m = BTreeMap::new();
        m.insert("inner".to_owned(), Value::n(-3));
        m.insert("flag".to_owned(), Value::Bool(false));
        Item::new(&Key::global("P#1", "S#1"))
            .with("name", "Ana")
            .with("count", Value::n(42))
            .with("big", Value::N("18446744073709551615".into()))
            .with("ratio", Value::N("0.25".into()))
            .with("odd", Value::N("1e400".into()))
            .with("blob", Value::B(vec![0, 1, 2, 250]))
            .with("on", Value::Bool(true))
            .with("gone", Value::Null)
            .with(
                "list",
                Value::L(vec![Value::s("a"), Value::n(1), Value::Null]),
            )
            .with("map", Value::M(m))
            .with("tags", Value::Ss(vec!["x".into(), "y".into()]))
            .with("nums", Value::Ns(vec!["1".into(), "2.5".into()]))
            .with("state", "active")
            .with(
                "shape",
                Value::M(BTreeMap::from([("circle".to_owned(), Value::n(2))])),
            )
    }

    /// Read as JSON, an item is what the `serde_json::Value` tree made of it.
    #[test]
    fn an_item_reads_as_the_json_it_used_to_become() {
        let item = item();
        let before = serde_json::Value::Object(
            item.0
                .iter()
                .map(|(k, v)| (k.clone(), to_json(v)))
                .collect(),
        );
        let now: serde_json::Value = item.to_record().unwrap();
        assert_eq!(now, before);
        assert_eq!(now["blob"], json!("AAEC+g=="));
        assert_eq!(now["big"], json!(u64::MAX));
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum State {
        Active,
        Suspended,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Shape {
        Circle(u8),
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Name(String);

    #[derive(Debug, Deserialize, PartialEq)]
    struct Inner {
        inner: i32,
        flag: bool,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Record {
        pk: String,
        name: Name,
        count: u32,
        big: u64,
        ratio: f64,
        blob: String,
        on: bool,
        gone: Option<String>,
        absent: Option<String>,
        map: Inner,
        tags: Vec<String>,
        nums: Vec<f64>,
        state: State,
        shape: Shape,
    }

    #[test]
    fn a_record_reads_every_kind_of_value() {
        let r: Record = item().to_record().unwrap();
        assert_eq!(
            r,
            Record {
                pk: "P#1".into(),
                name: Name("Ana".into()),
                count: 42,
                big: u64::MAX,
                ratio: 0.25,
                blob: "AAEC+g==".into(),
                on: true,
                gone: None,
                absent: None,
                map: Inner {
                    inner: -3,
                    flag: false
                },
                tags: vec!["x".into(), "y".into()],
                nums: vec![1.0, 2.5],
                state: State::Active,
                shape: Shape::Circle(2),
            }
        );
        let _ = State::Suspended;
    }

    #[test]
    fn a_mis_shaped_item_is_an_error_naming_what_is_wrong() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Wants {
            count: String,
        }
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Missing {
            nowhere: String,
        }
        let e = item().to_record::<Wants>().unwrap_err().to_string();
        assert!(e.contains("invalid type: integer `42`"), "{e}");
        let e = item().to_record::<Missing>().unwrap_err().to_string();
        assert!(e.contains("missing field `nowhere`"), "{e}");
        let bad_state = Item::new(&Key::global("P", "S")).with("state", "gone");
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct OnlyState {
            state: State,
        }
        let e = bad_state.to_record::<OnlyState>().unwrap_err().to_string();
        assert!(e.contains("unknown variant `gone`"), "{e}");
    }
}
