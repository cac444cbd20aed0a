//! A small cache from an input schema to the schema a transform derives from it (Kafka keeps a
//! 16-entry LRU `schemaUpdateCache` in most schema-changing transforms).
//!
//! Records of one stream nearly always share a handful of schemas, so deriving the output schema
//! once per input schema, and handing out the same [`SchemaRef`] each time, saves work here and
//! lets converters downstream recognise the schema by pointer.

use std::sync::{Arc, Mutex, PoisonError};

use sluice_api::SchemaRef;

/// How many schemas a cache remembers, as in Kafka.
pub const DEFAULT_CAPACITY: usize = 16;

/// Maps input schemas to derived schemas, forgetting the least recently used beyond its capacity.
#[derive(Debug)]
pub struct SchemaCache {
    capacity: usize,
    /// Most recently used last. The input schemas are kept alive by the cache, so a pointer match
    /// can never be a different schema that happens to reuse a freed address.
    entries: Mutex<Vec<(SchemaRef, SchemaRef)>>,
}

impl Default for SchemaCache {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl SchemaCache {
    /// An empty cache holding at most `capacity` schemas (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            entries: Mutex::new(Vec::new()),
        }
    }

    /// The schema derived from `input`, computing it with `derive` on a miss.
    ///
    /// A schema is found by pointer first, then by equality, because converters may build an
    /// equal schema afresh for every record.
    pub fn get_or_derive(
        &self,
        input: &SchemaRef,
        derive: impl FnOnce(&SchemaRef) -> sluice_api::Result<SchemaRef>,
    ) -> sluice_api::Result<SchemaRef> {
        {
            let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
            let found = entries
                .iter()
                .position(|(k, _)| Arc::ptr_eq(k, input))
                .or_else(|| entries.iter().position(|(k, _)| k == input));
            if let Some(i) = found {
                let entry = entries.remove(i);
                let derived = entry.1.clone();
                entries.push(entry);
                return Ok(derived);
            }
        }
        // Derive outside the lock: deriving may be slow, and another thread deriving the same
        // schema at the same time only costs a duplicate entry that ages out.
        let derived = derive(input)?;
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= self.capacity {
            entries.remove(0);
        }
        entries.push((input.clone(), derived.clone()));
        Ok(derived)
    }

    /// How many schemas are cached.
    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_api::{Schema, SchemaBuilder};
    use std::cell::Cell;

    fn named(name: &str) -> SchemaRef {
        SchemaBuilder::struct_schema()
            .name(name)
            .field("f", Schema::int32())
            .build()
    }

    fn renamed(s: &SchemaRef) -> sluice_api::Result<SchemaRef> {
        let name = s.name.clone().unwrap_or_default();
        Ok(SchemaBuilder::from_schema(s)
            .name(format!("{name}.out"))
            .build())
    }

    #[test]
    fn derives_once_per_equal_schema() {
        let cache = SchemaCache::default();
        let calls = Cell::new(0);
        let derive = |s: &SchemaRef| {
            calls.set(calls.get() + 1);
            renamed(s)
        };
        let first = cache.get_or_derive(&named("a"), derive).unwrap();
        // An equal schema built separately is a hit, and yields the very same derived schema.
        let second = cache
            .get_or_derive(&named("a"), |s| {
                calls.set(calls.get() + 1);
                renamed(s)
            })
            .unwrap();
        assert_eq!(calls.get(), 1);
        assert!(Arc::ptr_eq(&first, &second));
        assert_eq!(first.name.as_deref(), Some("a.out"));
    }

    #[test]
    fn evicts_least_recently_used() {
        let cache = SchemaCache::new(2);
        let a = named("a");
        cache.get_or_derive(&a, renamed).unwrap();
        cache.get_or_derive(&named("b"), renamed).unwrap();
        // Touch `a` so that `b` is the oldest, then add `c`.
        cache.get_or_derive(&a, renamed).unwrap();
        cache.get_or_derive(&named("c"), renamed).unwrap();
        assert_eq!(cache.len(), 2);
        let mut derived_again = false;
        cache
            .get_or_derive(&a, |s| {
                derived_again = true;
                renamed(s)
            })
            .unwrap();
        assert!(
            !derived_again,
            "a was used recently and must still be cached"
        );
        cache
            .get_or_derive(&named("b"), |s| {
                derived_again = true;
                renamed(s)
            })
            .unwrap();
        assert!(
            derived_again,
            "b was the least recently used and must have been evicted"
        );
    }

    #[test]
    fn derive_errors_are_not_cached() {
        let cache = SchemaCache::default();
        let err = cache.get_or_derive(&named("a"), |_| Err(sluice_api::ConnectError::data("boom")));
        assert!(err.is_err());
        assert!(cache.is_empty());
    }
}
