//! `Filter`: drops every record. Paired with a predicate in the chain, it drops the records that
//! match (or, negated, those that do not).

use sluice_api::{ConfigDef, ConnectRecord, Props, Result, Transform, async_trait};

/// Java class of this transform.
pub const CLASS: &str = "org.apache.kafka.connect.transforms.Filter";

/// Drops every record it is applied to (Kafka's `Filter`); it has no settings.
#[derive(Debug, Default, Clone, Copy)]
pub struct Filter;

#[async_trait]
impl Transform for Filter {
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new()
    }

    fn configure(&mut self, _props: &Props) -> Result<()> {
        Ok(())
    }

    async fn apply(&self, _record: ConnectRecord) -> Result<Option<ConnectRecord>> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use sluice_api::Value;

    use super::*;
    use crate::test_util::{apply, props};

    #[test]
    fn drops_every_record() {
        let mut f = Filter;
        // Unknown settings are ignored, as Kafka's Filter ignores them.
        f.configure(&props(&[("anything", "x")])).unwrap();
        assert!(f.config_def().keys().is_empty());
        for value in [Value::Null, Value::from("v"), Value::Int32(1)] {
            let out = apply(&f, ConnectRecord::new("t", value)).unwrap();
            assert!(out.is_none());
        }
    }
}
