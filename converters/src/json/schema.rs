//! Connect schemas as JSON (`JsonConverter.asJsonSchema` / `asConnectSchema`).
//!
//! Schema objects are written with their members in Kafka's order: `type`, then `items` or
//! `keys`/`values` or `fields`, then `optional`, `name`, `version`, `doc`, `parameters`, `default`,
//! and for struct fields a trailing `field` name.

use std::collections::HashSet;

use sluice_api::{ConnectError, Result, Schema, SchemaBuilder, SchemaRef, SchemaType};

use super::Codec;
use super::text::{JsonNode, write_string};

impl Codec {
    /// Appends the JSON form of `schema`; `field_name` is set for the schema of a struct field.
    pub(crate) fn write_schema(
        &self,
        out: &mut String,
        schema: &Schema,
        field_name: Option<&str>,
    ) -> Result<()> {
        out.push_str("{\"type\":");
        write_string(out, schema.schema_type.json_name());
        match schema.schema_type {
            SchemaType::Array => {
                out.push_str(",\"items\":");
                self.write_optional_schema(out, schema.value_schema.as_deref())?;
            }
            SchemaType::Map => {
                out.push_str(",\"keys\":");
                self.write_optional_schema(out, schema.key_schema.as_deref())?;
                out.push_str(",\"values\":");
                self.write_optional_schema(out, schema.value_schema.as_deref())?;
            }
            SchemaType::Struct => {
                out.push_str(",\"fields\":[");
                for (i, field) in schema.fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    self.write_schema(out, &field.schema, Some(&field.name))?;
                }
                out.push(']');
            }
            _ => {}
        }
        out.push_str(",\"optional\":");
        out.push_str(if schema.optional { "true" } else { "false" });
        if let Some(name) = &schema.name {
            out.push_str(",\"name\":");
            write_string(out, name);
        }
        if let Some(version) = schema.version {
            out.push_str(",\"version\":");
            out.push_str(&version.to_string());
        }
        if let Some(doc) = &schema.doc {
            out.push_str(",\"doc\":");
            write_string(out, doc);
        }
        if !schema.parameters.is_empty() {
            out.push_str(",\"parameters\":{");
            for (i, (key, value)) in schema.parameters.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, key);
                out.push(':');
                write_string(out, value);
            }
            out.push('}');
        }
        if let Some(default) = schema.default_value.as_ref().filter(|d| !d.is_null()) {
            out.push_str(",\"default\":");
            self.write_value(out, Some(schema), default)?;
        }
        if let Some(field_name) = field_name {
            out.push_str(",\"field\":");
            write_string(out, field_name);
        }
        out.push('}');
        Ok(())
    }

    fn write_optional_schema(&self, out: &mut String, schema: Option<&Schema>) -> Result<()> {
        match schema {
            Some(schema) => self.write_schema(out, schema, None),
            None => {
                out.push_str("null");
                Ok(())
            }
        }
    }

    /// Reads a schema from its JSON form; JSON `null` is no schema.
    pub(crate) fn read_schema(&self, node: &JsonNode) -> Result<Option<SchemaRef>> {
        if matches!(node, JsonNode::Null) {
            return Ok(None);
        }
        let type_name = node
            .get("type")
            .and_then(JsonNode::as_str)
            .ok_or_else(|| ConnectError::data("Schema must contain 'type' field"))?;
        let schema_type = SchemaType::from_json_name(type_name)
            .ok_or_else(|| ConnectError::data(format!("Unknown schema type: {type_name}")))?;

        let mut builder = match schema_type {
            SchemaType::Array => {
                let items = self.required_child(
                    node,
                    "items",
                    || "Array schema did not specify the element type",
                )?;
                SchemaBuilder::array(items)
            }
            SchemaType::Map => {
                let keys = self.required_child(
                    node,
                    "keys",
                    || "Map schema did not specify the key type",
                )?;
                let values = self.required_child(
                    node,
                    "values",
                    || "Map schema did not specify the value type",
                )?;
                SchemaBuilder::map(keys, values)
            }
            SchemaType::Struct => {
                let Some(JsonNode::Array(fields)) = node.get("fields") else {
                    return Err(ConnectError::data(
                        "Struct schema's \"fields\" argument is not an array.",
                    ));
                };
                let mut builder = SchemaBuilder::struct_schema();
                let mut seen = HashSet::new();
                for field in fields {
                    let name = field
                        .get("field")
                        .and_then(JsonNode::as_str)
                        .ok_or_else(|| {
                            ConnectError::data("Struct schema's field name not specified properly")
                        })?;
                    if !seen.insert(name) {
                        return Err(ConnectError::data(format!(
                            "Cannot create field because of field name duplication {name}"
                        )));
                    }
                    let field_schema = self.read_schema(field)?.ok_or_else(|| {
                        ConnectError::data(format!("Struct field {name} has no schema"))
                    })?;
                    builder = builder.field(name, field_schema);
                }
                builder
            }
            primitive => SchemaBuilder::new(primitive),
        };

        if node.get("optional") == Some(&JsonNode::Bool(true)) {
            builder = builder.optional();
        }
        if let Some(name) = node.get("name").and_then(JsonNode::as_str) {
            builder = builder.name(name);
        }
        if let Some(JsonNode::Number(version)) = node.get("version")
            && let Ok(version) = version.parse::<i32>()
        {
            builder = builder.version(version);
        }
        if let Some(doc) = node.get("doc").and_then(JsonNode::as_str) {
            builder = builder.doc(doc);
        }
        if let Some(JsonNode::Object(parameters)) = node.get("parameters") {
            for (key, value) in parameters {
                let value = value.as_str().ok_or_else(|| {
                    ConnectError::data("Schema parameters must have string values.")
                })?;
                builder = builder.parameter(key, value);
            }
        }
        if let Some(default_node) = node.get("default") {
            // The default is read against the schema as built so far, as Kafka does.
            let without_default = builder.clone().build();
            let default = self.read_value(Some(&without_default), Some(default_node))?;
            if !default.is_null() {
                builder = builder.default_value(default);
            }
        }
        Ok(Some(builder.build()))
    }

    fn required_child(
        &self,
        node: &JsonNode,
        member: &str,
        missing: impl Fn() -> &'static str,
    ) -> Result<SchemaRef> {
        match node.get(member) {
            Some(child) => self.read_schema(child)?,
            None => None,
        }
        .ok_or_else(|| ConnectError::data(missing()))
    }
}
