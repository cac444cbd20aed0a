//! Building derived struct schemas (Kafka's `SchemaUtil`).

use sluice_api::{Schema, SchemaBuilder};

/// A builder of `schema`'s type (with its item, key and value schemas) with its name, version, doc and parameters but no fields, no
/// optionality and no default, as Kafka's `SchemaUtil.copySchemaBasics`.
pub fn copy_schema_basics(schema: &Schema) -> SchemaBuilder {
    // Arrays and maps keep their element schemas; they are part of the type.
    let mut builder = match (&schema.key_schema, &schema.value_schema) {
        (Some(k), Some(v)) => SchemaBuilder::map(k.clone(), v.clone()),
        (None, Some(items)) => SchemaBuilder::array(items.clone()),
        _ => SchemaBuilder::new(schema.schema_type),
    };
    if let Some(name) = &schema.name {
        builder = builder.name(name.clone());
    }
    if let Some(version) = schema.version {
        builder = builder.version(version);
    }
    if let Some(doc) = &schema.doc {
        builder = builder.doc(doc.clone());
    }
    for (k, v) in &schema.parameters {
        builder = builder.parameter(k.clone(), v.clone());
    }
    builder
}

#[cfg(test)]
mod tests {
    use sluice_api::{SchemaType, Value};

    use super::*;

    #[test]
    fn keeps_metadata_and_drops_fields() {
        let s = SchemaBuilder::struct_schema()
            .name("n")
            .version(3)
            .doc("d")
            .parameter("p", "v")
            .optional()
            .default_value(Value::Null)
            .field("f", Schema::int32())
            .build();
        let copy = copy_schema_basics(&s).build();
        assert_eq!(copy.schema_type, SchemaType::Struct);
        assert_eq!(copy.name.as_deref(), Some("n"));
        assert_eq!(copy.version, Some(3));
        assert_eq!(copy.doc.as_deref(), Some("d"));
        assert_eq!(copy.parameters.get("p").map(String::as_str), Some("v"));
        assert!(copy.fields.is_empty());
        assert!(!copy.optional);
        assert!(copy.default_value.is_none());
    }

    #[test]
    fn arrays_keep_their_item_schema() {
        let s = SchemaBuilder::array(Schema::string()).optional().build();
        let copy = copy_schema_basics(&s).build();
        assert_eq!(copy.schema_type, SchemaType::Array);
        assert_eq!(copy.value_schema, Some(Schema::string()));
        assert!(!copy.optional);
    }
}
