//! The compiled-in plugin registry: every plugin crate's `plugins()` list, looked up by kind and
//! by any of a plugin's names (Java class name or alias).

use sluice_api::{
    Converter, HeaderConverter, PluginDesc, PluginFactory, PluginType, Predicate, Transform,
};

/// Errors looking up a plugin.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// No plugin of that kind answers to the name.
    #[error(
        "Failed to find any class that implements {kind} and which name matches {name}, available {kind_plural}: {available}"
    )]
    NotFound {
        /// The kind looked for (e.g. "Connector").
        kind: &'static str,
        /// Plural for the message.
        kind_plural: &'static str,
        /// The name asked for.
        name: String,
        /// Known names of that kind.
        available: String,
    },
}

/// All plugins this build of Sluice contains.
#[derive(Clone)]
pub struct PluginRegistry {
    plugins: Vec<PluginDesc>,
}

impl Default for PluginRegistry {
    fn default() -> Self {
        Self::builtin()
    }
}

impl PluginRegistry {
    /// The plugins compiled into this binary.
    pub fn builtin() -> Self {
        let mut plugins = Vec::new();
        plugins.extend(sluice_converters::plugins());
        plugins.extend(sluice_transforms::plugins());
        #[cfg(feature = "image-classifier")]
        plugins.extend(sluice_transform_image_classifier::plugins());
        plugins.extend(sluice_connector_file::plugins());
        plugins.extend(sluice_connector_verifiable::plugins());
        plugins.extend(sluice_connector_mqtt::plugins());
        plugins.extend(sluice_connector_elasticsearch::plugins());
        Self { plugins }
    }

    /// A registry of exactly these plugins (for tests).
    pub fn from_plugins(plugins: Vec<PluginDesc>) -> Self {
        Self { plugins }
    }

    /// Every plugin.
    pub fn all(&self) -> &[PluginDesc] {
        &self.plugins
    }

    fn find(&self, types: &[PluginType], name: &str) -> Option<&PluginDesc> {
        let name = name.trim();
        self.plugins
            .iter()
            .find(|p| types.contains(&p.factory.plugin_type()) && p.answers_to(name))
    }

    fn not_found(
        &self,
        types: &[PluginType],
        kind: &'static str,
        plural: &'static str,
        name: &str,
    ) -> PluginError {
        let available = self
            .plugins
            .iter()
            .filter(|p| types.contains(&p.factory.plugin_type()))
            .map(|p| p.class)
            .collect::<Vec<_>>()
            .join(", ");
        PluginError::NotFound {
            kind,
            kind_plural: plural,
            name: name.to_owned(),
            available,
        }
    }

    /// A source or sink connector by name.
    pub fn connector(&self, name: &str) -> Result<&PluginDesc, PluginError> {
        let types = [PluginType::Source, PluginType::Sink];
        self.find(&types, name)
            .ok_or_else(|| self.not_found(&types, "Connector", "connectors", name))
    }

    /// A new converter instance by name.
    pub fn converter(&self, name: &str) -> Result<Box<dyn Converter>, PluginError> {
        let types = [PluginType::Converter];
        match self.find(&types, name).map(|p| p.factory) {
            Some(PluginFactory::Converter(make)) => Ok(make()),
            _ => Err(self.not_found(&types, "Converter", "converters", name)),
        }
    }

    /// A new header converter instance by name.
    pub fn header_converter(&self, name: &str) -> Result<Box<dyn HeaderConverter>, PluginError> {
        let types = [PluginType::HeaderConverter];
        match self.find(&types, name).map(|p| p.factory) {
            Some(PluginFactory::HeaderConverter(make)) => Ok(make()),
            _ => Err(self.not_found(&types, "HeaderConverter", "header converters", name)),
        }
    }

    /// A new transform instance by name.
    pub fn transform(&self, name: &str) -> Result<Box<dyn Transform>, PluginError> {
        let types = [PluginType::Transformation];
        match self.find(&types, name).map(|p| p.factory) {
            Some(PluginFactory::Transform(make)) => Ok(make()),
            _ => Err(self.not_found(&types, "Transformation", "transformations", name)),
        }
    }

    /// A new predicate instance by name.
    pub fn predicate(&self, name: &str) -> Result<Box<dyn Predicate>, PluginError> {
        let types = [PluginType::Predicate];
        match self.find(&types, name).map(|p| p.factory) {
            Some(PluginFactory::Predicate(make)) => Ok(make()),
            _ => Err(self.not_found(&types, "Predicate", "predicates", name)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_class_names_and_aliases_resolve() {
        let r = PluginRegistry::builtin();
        for name in [
            "org.apache.kafka.connect.file.FileStreamSourceConnector",
            "FileStreamSource",
            "org.apache.kafka.connect.file.FileStreamSinkConnector",
            "FileStreamSink",
            "org.apache.kafka.connect.tools.VerifiableSourceConnector",
            "org.apache.kafka.connect.tools.VerifiableSinkConnector",
        ] {
            assert!(r.connector(name).is_ok(), "{name}");
        }
        for name in [
            "org.apache.kafka.connect.storage.StringConverter",
            "org.apache.kafka.connect.converters.ByteArrayConverter",
            "org.apache.kafka.connect.json.JsonConverter",
        ] {
            assert!(r.converter(name).is_ok(), "{name}");
        }
        assert!(
            r.header_converter("org.apache.kafka.connect.storage.SimpleHeaderConverter")
                .is_ok()
        );
        assert!(
            r.transform("org.apache.kafka.connect.transforms.InsertField$Value")
                .is_ok()
        );
        assert!(
            r.predicate("org.apache.kafka.connect.transforms.predicates.TopicNameMatches")
                .is_ok()
        );
    }

    #[test]
    fn unknown_names_list_what_exists() {
        let r = PluginRegistry::builtin();
        let err = r
            .connector("com.example.Nope")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("com.example.Nope"), "{err}");
        assert!(err.contains("FileStreamSourceConnector"), "{err}");
        assert!(r.converter("FileStreamSource").is_err());
    }
}
