//! `DropHeaders`: removes headers by name.

use std::collections::BTreeSet;

use sluice_api::{
    ConfigDef, ConfigKey, ConfigType, ConnectRecord, DefaultValue, Importance, Props, Result,
    Transform, async_trait,
};

use crate::requirements::not_configured;
use crate::validators::non_empty_list;

/// Java class of this transform.
pub const CLASS: &str = "org.apache.kafka.connect.transforms.DropHeaders";

const HEADERS: &str = "headers";
const NAME: &str = "DropHeaders";

/// Removes every header whose name is listed (Kafka's `DropHeaders`).
#[derive(Debug, Default)]
pub struct DropHeaders {
    names: Option<BTreeSet<String>>,
}

impl DropHeaders {
    /// The settings this transform accepts.
    pub fn definition() -> ConfigDef {
        ConfigDef::new().define(
            ConfigKey::new(
                HEADERS,
                ConfigType::List,
                DefaultValue::Required,
                Importance::High,
                "The names of the headers to remove.",
            )
            .validator(non_empty_list()),
        )
    }
}

#[async_trait]
impl Transform for DropHeaders {
    fn config_def(&self) -> ConfigDef {
        Self::definition()
    }

    fn configure(&mut self, props: &Props) -> Result<()> {
        let config = Self::definition().parse(props)?;
        self.names = Some(config.list(HEADERS).into_iter().collect());
        Ok(())
    }

    async fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>> {
        let names = self.names.as_ref().ok_or_else(|| not_configured(NAME))?;
        if record
            .headers
            .iter()
            .any(|h| names.contains(h.key.as_ref()))
        {
            record.headers = record
                .headers
                .iter()
                .filter(|h| !names.contains(h.key.as_ref()))
                .cloned()
                .collect();
        }
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use sluice_api::{ConnectError, Value};

    use super::*;
    use crate::test_util::{apply, props};

    #[test]
    fn removes_listed_headers_and_keeps_the_rest_in_order() {
        let mut t = DropHeaders::default();
        t.configure(&props(&[(HEADERS, "a, c")])).unwrap();
        let mut record = ConnectRecord::new("t", Value::from("v"));
        for (k, v) in [("a", "1"), ("b", "2"), ("a", "3"), ("c", "4"), ("d", "5")] {
            record.headers.add_string(k, v);
        }
        let out = apply(&t, record).unwrap().unwrap();
        let left: Vec<_> = out
            .headers
            .iter()
            .map(|h| (h.key.as_ref(), h.value.as_str().unwrap_or_default()))
            .collect();
        assert_eq!(left, [("b", "2"), ("d", "5")]);
        assert_eq!(out.value, Value::from("v"));
    }

    #[test]
    fn headers_must_be_a_non_empty_list() {
        let mut t = DropHeaders::default();
        let err = t.configure(&props(&[])).unwrap_err();
        assert!(matches!(err, ConnectError::Config(_)));
        assert!(err.to_string().contains(HEADERS), "{err}");
        let err = t.configure(&props(&[(HEADERS, "")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid value [] for configuration headers: Empty list"
        );
    }
}
