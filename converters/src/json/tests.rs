use std::sync::Arc;

use sluice_api::data::logical;
use sluice_api::{
    ConnectError, Converter, HeaderConverter, Props, Schema, SchemaBuilder, SchemaRef, SchemaType,
    Struct, Value,
};

use super::*;

fn configured(pairs: &[(&str, &str)]) -> JsonConverter {
    let props: Props = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut c = JsonConverter::new();
    Converter::configure(&mut c, &props, false).unwrap();
    c
}

fn schemaless() -> JsonConverter {
    configured(&[(SCHEMAS_ENABLE_CONFIG, "false")])
}

fn write(c: &JsonConverter, schema: Option<&Schema>, value: &Value) -> String {
    let bytes = c.from_connect_data("t", schema, value).unwrap().unwrap();
    String::from_utf8(bytes).unwrap()
}

fn read(c: &JsonConverter, text: &str) -> SchemaAndValue {
    c.to_connect_data("t", Some(text.as_bytes())).unwrap()
}

fn user_schema() -> SchemaRef {
    SchemaBuilder::struct_schema()
        .name("com.example.User")
        .field("id", Schema::int32())
        .field("name", Schema::optional_string())
        .build()
}

fn decimal_schema(scale: i32) -> SchemaRef {
    SchemaBuilder::new(SchemaType::Bytes)
        .name(logical::DECIMAL)
        .parameter(logical::DECIMAL_SCALE, scale.to_string())
        .version(1)
        .build()
}

fn logical_schema(schema_type: SchemaType, name: &str) -> SchemaRef {
    SchemaBuilder::new(schema_type)
        .name(name)
        .version(1)
        .build()
}

/// Writes with a schema, reads back, and checks both the schema and the value survive.
fn assert_round_trip(c: &JsonConverter, schema: &SchemaRef, value: Value) {
    let text = write(c, Some(schema), &value);
    let back = read(c, &text);
    assert_eq!(back.schema.as_deref(), Some(schema.as_ref()), "{text}");
    assert_eq!(back.value, value, "{text}");
}

#[test]
fn reference_envelope_is_byte_exact() {
    let c = JsonConverter::new();
    let schema = user_schema();
    let value = Struct::new(schema.clone())
        .unwrap()
        .with("id", 42)
        .unwrap()
        .with("name", "Ada")
        .unwrap();
    let text = write(&c, Some(&schema), &Value::Struct(value.clone()));
    assert_eq!(
        text,
        r#"{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"},{"type":"string","optional":true,"field":"name"}],"optional":false,"name":"com.example.User"},"payload":{"id":42,"name":"Ada"}}"#
    );
    let back = read(&c, &text);
    assert_eq!(back.schema.as_deref(), Some(schema.as_ref()));
    assert_eq!(back.value, Value::Struct(value));
}

#[test]
fn schema_members_follow_kafka_order() {
    let c = JsonConverter::new();
    let schema = SchemaBuilder::new(SchemaType::Int64)
        .optional()
        .name("n")
        .version(3)
        .doc("the \"doc\"")
        .parameter("b", "2")
        .parameter("a", "1")
        .default_value(Value::Int64(9))
        .build();
    assert_eq!(
        &*c.schema_to_json(&schema).unwrap(),
        r#"{"type":"int64","optional":true,"name":"n","version":3,"doc":"the \"doc\"","parameters":{"a":"1","b":"2"},"default":9}"#
    );
    let array = SchemaBuilder::array(Schema::optional_float32()).build();
    assert_eq!(
        &*c.schema_to_json(&array).unwrap(),
        r#"{"type":"array","items":{"type":"float","optional":true},"optional":false}"#
    );
    let map = SchemaBuilder::map(Schema::string(), Schema::boolean())
        .optional()
        .build();
    assert_eq!(
        &*c.schema_to_json(&map).unwrap(),
        r#"{"type":"map","keys":{"type":"string","optional":false},"values":{"type":"boolean","optional":false},"optional":true}"#
    );
    // Reading the schema back gives an equal schema.
    for s in [&schema, &array, &map] {
        let json = c.schema_to_json(s).unwrap();
        assert_eq!(
            c.schema_from_json(json.as_bytes()).unwrap().as_deref(),
            Some(s.as_ref())
        );
    }
}

#[test]
fn every_primitive_type_round_trips() {
    let c = JsonConverter::new();
    let cases: Vec<(SchemaRef, Value)> = vec![
        (Schema::int8(), Value::Int8(-8)),
        (Schema::int16(), Value::Int16(1600)),
        (Schema::int32(), Value::Int32(-320_000)),
        (Schema::int64(), Value::Int64(i64::MIN)),
        (Schema::float32(), Value::Float32(3.25)),
        (Schema::float64(), Value::Float64(-1.0e-300)),
        (Schema::float64(), Value::Float64(f64::INFINITY)),
        (Schema::boolean(), Value::Boolean(true)),
        (
            Schema::string(),
            Value::String("tab\t \"quoted\" é 😀".into()),
        ),
        (Schema::bytes(), Value::Bytes(vec![0, 1, 2, 254, 255])),
        (Schema::optional_string(), Value::Null),
    ];
    for (schema, value) in cases {
        assert_round_trip(&c, &schema, value);
    }
}

#[test]
fn payload_numbers_and_bytes_are_written_like_jackson() {
    let c = JsonConverter::new();
    assert_eq!(
        write(&c, Some(&Schema::float64()), &Value::Float64(1e10)),
        r#"{"schema":{"type":"double","optional":false},"payload":1.0E10}"#
    );
    assert_eq!(
        write(&c, Some(&Schema::float32()), &Value::Float32(f32::NAN)),
        r#"{"schema":{"type":"float","optional":false},"payload":"NaN"}"#
    );
    assert_eq!(
        write(&c, Some(&Schema::bytes()), &Value::Bytes(b"hello".to_vec())),
        r#"{"schema":{"type":"bytes","optional":false},"payload":"aGVsbG8="}"#
    );
}

#[test]
fn nested_structs_arrays_and_maps_round_trip() {
    let c = JsonConverter::new();
    let address = SchemaBuilder::struct_schema()
        .name("Address")
        .field("street", Schema::string())
        .field("zip", Schema::optional_int32())
        .build();
    let schema = SchemaBuilder::struct_schema()
        .name("Person")
        .field("tags", SchemaBuilder::array(Schema::string()).build())
        .field(
            "scores",
            SchemaBuilder::map(Schema::string(), Schema::float64()).build(),
        )
        .field(
            "by_id",
            SchemaBuilder::map(Schema::int32(), address.clone()).build(),
        )
        .field(
            "matrix",
            SchemaBuilder::array(SchemaBuilder::array(Schema::int64()).build()).build(),
        )
        .field("home", address.clone())
        .build();
    let home = Struct::new(address.clone())
        .unwrap()
        .with("street", "Main St")
        .unwrap();
    let work = Struct::new(address.clone())
        .unwrap()
        .with("street", "Side St")
        .unwrap()
        .with("zip", 12345)
        .unwrap();
    let mut person = Struct::new(schema.clone()).unwrap();
    person
        .put("tags", Value::Array(vec!["a".into(), "b".into()]))
        .unwrap()
        .put(
            "scores",
            Value::Map(vec![
                ("z".into(), Value::Float64(1.5)),
                ("a".into(), Value::Float64(2.0)),
            ]),
        )
        .unwrap()
        .put(
            "by_id",
            Value::Map(vec![(Value::Int32(7), Value::Struct(work))]),
        )
        .unwrap()
        .put(
            "matrix",
            Value::Array(vec![
                Value::Array(vec![Value::Int64(1), Value::Int64(2)]),
                Value::Array(vec![]),
            ]),
        )
        .unwrap()
        .put("home", Value::Struct(home))
        .unwrap();
    let text = write(&c, Some(&schema), &Value::Struct(person.clone()));
    // Maps with string keys are objects in entry order; other keys give [key, value] pairs.
    assert!(
        text.contains(r#""payload":{"tags":["a","b"],"scores":{"z":1.5,"a":2.0},"by_id":[[7,{"street":"Side St","zip":12345}]],"matrix":[[1,2],[]],"home":{"street":"Main St","zip":null}}"#),
        "{text}"
    );
    assert_round_trip(&c, &schema, Value::Struct(person));
}

#[test]
fn logical_types_round_trip_in_both_decimal_formats() {
    for format in ["BASE64", "numeric"] {
        let c = configured(&[(DECIMAL_FORMAT_CONFIG, format)]);
        assert_round_trip(&c, &decimal_schema(2), Value::Bytes(vec![0x04, 0xD2]));
        assert_round_trip(&c, &decimal_schema(0), Value::Bytes(vec![0x80]));
        assert_round_trip(
            &c,
            &decimal_schema(5),
            Value::Bytes(
                crate::decimal::BigDecimal::parse("-123456789012345678901234567.89012")
                    .unwrap()
                    .unscaled_bytes(),
            ),
        );
        assert_round_trip(
            &c,
            &logical_schema(SchemaType::Int32, logical::DATE),
            Value::Int32(19_723),
        );
        assert_round_trip(
            &c,
            &logical_schema(SchemaType::Int32, logical::TIME),
            Value::Int32(45_296_789),
        );
        assert_round_trip(
            &c,
            &logical_schema(SchemaType::Int64, logical::TIMESTAMP),
            Value::Int64(1_704_112_496_789),
        );
    }
}

#[test]
fn decimals_are_written_like_kafka() {
    // The message from Kafka's own JsonConverterTest for 1.56 at scale 2.
    let base64 = JsonConverter::new();
    assert_eq!(
        write(
            &base64,
            Some(&decimal_schema(2)),
            &Value::Bytes(vec![0x00, 0x9C])
        ),
        r#"{"schema":{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2"}},"payload":"AJw="}"#
    );
    let kafka_message = r#"{ "schema": { "type": "bytes", "name": "org.apache.kafka.connect.data.Decimal", "version": 1, "parameters": { "scale": "2" } }, "payload": "AJw=" }"#;
    assert_eq!(
        read(&base64, kafka_message).value,
        Value::Bytes(vec![0x00, 0x9C])
    );

    let numeric = configured(&[(DECIMAL_FORMAT_CONFIG, "NUMERIC")]);
    let text = write(
        &numeric,
        Some(&decimal_schema(2)),
        &Value::Bytes(vec![0x00, 0x9C]),
    );
    assert!(text.ends_with(r#""payload":1.56}"#), "{text}");
    // Redundant sign bytes are normalised as BigInteger.toByteArray does.
    let text = write(
        &base64,
        Some(&decimal_schema(0)),
        &Value::Bytes(vec![0x00, 0x00, 0x01]),
    );
    assert!(text.ends_with(r#""payload":"AQ=="}"#), "{text}");
}

#[test]
fn numeric_decimals_are_rescaled_exactly_on_read() {
    let c = JsonConverter::new();
    let schema_json = r#"{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"3"}}"#;
    let sv = read(&c, &format!(r#"{{"schema":{schema_json},"payload":1.5}}"#));
    // 1.5 at scale 3 is the unscaled 1500 = 0x05DC.
    assert_eq!(sv.value, Value::Bytes(vec![0x05, 0xDC]));
    let sv = read(&c, &format!(r#"{{"schema":{schema_json},"payload":2}}"#));
    assert_eq!(sv.value, Value::Bytes(vec![0x07, 0xD0]));
    let err = c
        .to_connect_data(
            "t",
            Some(format!(r#"{{"schema":{schema_json},"payload":1.23456}}"#).as_bytes()),
        )
        .unwrap_err();
    assert!(err.to_string().contains("scale 3"), "{err}");
}

#[test]
fn non_envelope_input_with_schemas_enabled_is_an_error() {
    let c = JsonConverter::new();
    for text in [
        r#"{"id":42}"#,
        r#"{"schema":null,"payload":1,"extra":true}"#,
        r#"{"schema":null}"#,
        "[1,2]",
        "42",
        "",
    ] {
        let err = c.to_connect_data("t", Some(text.as_bytes())).unwrap_err();
        assert!(matches!(err, ConnectError::Data(_)), "{text}: {err:?}");
        assert!(
            err.to_string().contains("set schemas.enable=false"),
            "{text}: {err}"
        );
    }
}

#[test]
fn malformed_json_is_a_data_error() {
    let c = schemaless();
    let err = c.to_connect_data("t", Some(b"{\"a\":")).unwrap_err();
    assert!(matches!(err, ConnectError::Data(_)), "{err:?}");
    assert!(err.to_string().contains("serialization error"), "{err}");
}

#[test]
fn schemaless_reads_infer_types() {
    let c = schemaless();
    let sv = read(
        &c,
        r#"{"b":1,"a":[1.5,-2,"x",true,null],"n":{"deep":{}},"big":12345678901}"#,
    );
    assert_eq!(sv.schema, None);
    assert_eq!(
        sv.value,
        Value::Map(vec![
            ("b".into(), Value::Int64(1)),
            (
                "a".into(),
                Value::Array(vec![
                    Value::Float64(1.5),
                    Value::Int64(-2),
                    "x".into(),
                    Value::Boolean(true),
                    Value::Null,
                ])
            ),
            (
                "n".into(),
                Value::Map(vec![("deep".into(), Value::Map(vec![]))])
            ),
            ("big".into(), Value::Int64(12_345_678_901)),
        ])
    );
    assert_eq!(read(&c, "1.0").value, Value::Float64(1.0));
    assert_eq!(read(&c, "\"s\"").value, Value::String("s".into()));
    // An envelope-free converter also reads an envelope's schema-null form as data.
    let enveloped = JsonConverter::new();
    let sv = read(&enveloped, r#"{"schema":null,"payload":{"k":7}}"#);
    assert_eq!(sv.schema, None);
    assert_eq!(sv.value, Value::Map(vec![("k".into(), Value::Int64(7))]));
}

#[test]
fn schemaless_writes_follow_the_values() {
    let c = schemaless();
    let value = Value::Map(vec![
        ("s".into(), "x".into()),
        ("i".into(), Value::Int32(3)),
        ("f".into(), Value::Float32(0.25)),
        ("b".into(), Value::Bytes(vec![1])),
        (
            "l".into(),
            Value::Array(vec![Value::Null, Value::Boolean(false)]),
        ),
    ]);
    assert_eq!(
        write(&c, None, &value),
        r#"{"s":"x","i":3,"f":0.25,"b":"AQ==","l":[null,false]}"#
    );
    let pairs = Value::Map(vec![(Value::Int64(1), "one".into())]);
    assert_eq!(write(&c, None, &pairs), r#"[[1,"one"]]"#);
    // With schemas enabled but no schema, the envelope carries a null schema.
    assert_eq!(
        write(&JsonConverter::new(), None, &Value::Int64(5)),
        r#"{"schema":null,"payload":5}"#
    );
}

#[test]
fn nulls_and_tombstones() {
    for c in [JsonConverter::new(), schemaless()] {
        assert_eq!(c.from_connect_data("t", None, &Value::Null).unwrap(), None);
        let back = c.to_connect_data("t", None).unwrap();
        assert_eq!(back, SchemaAndValue::null());
    }
    let enveloped = JsonConverter::new();
    let text = write(&enveloped, Some(&Schema::optional_int32()), &Value::Null);
    assert_eq!(
        text,
        r#"{"schema":{"type":"int32","optional":true},"payload":null}"#
    );
    let back = read(&enveloped, &text);
    assert_eq!(back.schema, Some(Schema::optional_int32()));
    assert_eq!(back.value, Value::Null);
    assert_eq!(
        write(&schemaless(), Some(&Schema::optional_int32()), &Value::Null),
        "null"
    );
    // Blank input without envelopes is a null, as Jackson's missing node is.
    assert_eq!(read(&schemaless(), "  ").value, Value::Null);
}

#[test]
fn required_nulls_are_errors_unless_a_default_applies() {
    let c = JsonConverter::new();
    let err = c
        .from_connect_data("t", Some(&Schema::int32()), &Value::Null)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("null value for field that is required"),
        "{err}"
    );
    let err = c
        .to_connect_data("t", Some(br#"{"schema":{"type":"int32"},"payload":null}"#))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Invalid null value for required INT32 field"
    );

    let with_default = SchemaBuilder::new(SchemaType::Int32)
        .default_value(Value::Int32(7))
        .build();
    assert!(write(&c, Some(&with_default), &Value::Null).ends_with(r#""payload":7}"#));
    let sv = read(
        &c,
        r#"{"schema":{"type":"int32","default":7},"payload":null}"#,
    );
    assert_eq!(sv.value, Value::Int32(7));
    assert_eq!(sv.schema.unwrap().default_value, Some(Value::Int32(7)));
}

#[test]
fn replace_null_with_default_can_be_disabled() {
    let c = configured(&[(REPLACE_NULL_WITH_DEFAULT_CONFIG, "false")]);
    let schema = SchemaBuilder::struct_schema()
        .field(
            "n",
            SchemaBuilder::new(SchemaType::Int32)
                .optional()
                .default_value(Value::Int32(7))
                .build(),
        )
        .build();
    let value = Struct::new(schema.clone()).unwrap();
    let text = write(&c, Some(&schema), &Value::Struct(value));
    assert!(text.ends_with(r#""payload":{"n":null}}"#), "{text}");
    let back = read(&c, &text);
    assert_eq!(
        back.value.as_struct().unwrap().get_without_default("n"),
        Some(&Value::Null)
    );

    let replacing = JsonConverter::new();
    let text = write(
        &replacing,
        Some(&schema),
        &Value::Struct(Struct::new(schema.clone()).unwrap()),
    );
    assert!(text.ends_with(r#""payload":{"n":7}}"#), "{text}");
}

#[test]
fn mismatched_values_are_errors() {
    let c = JsonConverter::new();
    let err = c
        .from_connect_data("t", Some(&Schema::int32()), &Value::String("x".into()))
        .unwrap_err();
    assert_eq!(err.to_string(), "Invalid type for INT32: String");
    let other = SchemaBuilder::struct_schema()
        .field("x", Schema::int8())
        .build();
    let value = Struct::new(other)
        .unwrap()
        .with("x", Value::Int8(1))
        .unwrap();
    let err = c
        .from_connect_data("t", Some(&user_schema()), &Value::Struct(value))
        .unwrap_err();
    assert_eq!(err.to_string(), "Mismatching schema.");

    for payload in ["300", "1.5", "\"7\"", "true"] {
        let text = format!(r#"{{"schema":{{"type":"int8"}},"payload":{payload}}}"#);
        assert!(
            c.to_connect_data("t", Some(text.as_bytes())).is_err(),
            "{payload}"
        );
    }
    // Whole numbers written with a fraction or exponent are accepted.
    let sv = read(&c, r#"{"schema":{"type":"int16"},"payload":1.2e3}"#);
    assert_eq!(sv.value, Value::Int16(1200));
}

#[test]
fn invalid_schemas_are_reported() {
    let c = JsonConverter::new();
    let cases = [
        (r#"{"optional":true}"#, "Schema must contain 'type' field"),
        (r#"{"type":"uuid"}"#, "Unknown schema type: uuid"),
        (
            r#"{"type":"array"}"#,
            "Array schema did not specify the element type",
        ),
        (
            r#"{"type":"map","values":{"type":"int8"}}"#,
            "Map schema did not specify the key type",
        ),
        (
            r#"{"type":"struct","fields":{}}"#,
            "Struct schema's \"fields\" argument is not an array.",
        ),
        (
            r#"{"type":"struct","fields":[{"type":"int8"}]}"#,
            "Struct schema's field name not specified properly",
        ),
        (
            r#"{"type":"int8","parameters":{"a":1}}"#,
            "Schema parameters must have string values.",
        ),
    ];
    for (schema, message) in cases {
        let text = format!(r#"{{"schema":{schema},"payload":null}}"#);
        let err = c.to_connect_data("t", Some(text.as_bytes())).unwrap_err();
        assert_eq!(err.to_string(), message, "{schema}");
    }
}

#[test]
fn schemas_read_from_messages_are_cached() {
    let c = JsonConverter::new();
    let text = r#"{"schema":{"type":"string","optional":true},"payload":"a"}"#;
    let first = read(&c, text).schema.unwrap();
    let second = read(&c, text).schema.unwrap();
    assert!(Arc::ptr_eq(&first, &second));

    let uncached = configured(&[(SCHEMAS_CACHE_SIZE_CONFIG, "0")]);
    let first = read(&uncached, text).schema.unwrap();
    let second = read(&uncached, text).schema.unwrap();
    assert!(!Arc::ptr_eq(&first, &second));
    assert_eq!(first, second);
}

#[test]
fn cached_schema_json_tracks_schema_changes() {
    let c = JsonConverter::new();
    let mut schema = Schema::clone(&Schema::int32());
    assert!(c.schema_to_json(&schema).unwrap().contains("int32"));
    // The same address now holds a different schema: it must render afresh.
    schema.schema_type = SchemaType::Int64;
    assert!(c.schema_to_json(&schema).unwrap().contains("int64"));
}

#[test]
fn decimal_format_setting_is_validated() {
    let mut c = JsonConverter::new();
    let props: Props = [(DECIMAL_FORMAT_CONFIG.to_string(), "HEX".to_string())]
        .into_iter()
        .collect();
    let err = Converter::configure(&mut c, &props, false).unwrap_err();
    assert!(matches!(err, ConnectError::Config(_)), "{err:?}");
    assert!(err.to_string().contains(DECIMAL_FORMAT_CONFIG), "{err}");
}

#[test]
fn acts_as_a_header_converter() {
    let mut c = JsonConverter::new();
    HeaderConverter::configure(&mut c, &Props::new()).unwrap();
    let bytes = c
        .from_connect_header("t", "h", Some(&Schema::string()), &"v".into())
        .unwrap()
        .unwrap();
    assert_eq!(
        bytes,
        br#"{"schema":{"type":"string","optional":false},"payload":"v"}"#
    );
    let sv = c.to_connect_header("t", "h", Some(&bytes)).unwrap();
    assert_eq!(sv.value, Value::String("v".into()));
    assert_eq!(sv.schema, Some(Schema::string()));
}
