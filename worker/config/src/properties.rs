//! Java `.properties` files.

use std::path::Path;

use java_properties::PropertiesIter;
use sluice_api::Props;

use crate::ConfigError;

/// Reads a Java properties file. Errors name the file (and the line for syntax errors).
///
/// Later definitions of a key replace earlier ones, as in Java.
pub fn load_properties(path: &Path) -> Result<Props, ConfigError> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| ConfigError::Read {
        path: name.clone(),
        source,
    })?;
    parse_properties(&bytes, &name)
}

/// Parses properties text; `name` is what errors call the source (usually the file name).
///
/// Valid UTF-8 is read as UTF-8; anything else as Latin-1, Java's encoding for properties streams.
pub fn parse_properties(bytes: &[u8], name: &str) -> Result<Props, ConfigError> {
    // UTF-8 first: most files are ASCII or UTF-8 today, and ASCII reads the same either way.
    let encoding = if std::str::from_utf8(bytes).is_ok() {
        encoding_rs::UTF_8
    } else {
        encoding_rs::WINDOWS_1252
    };
    let mut props = Props::new();
    PropertiesIter::new_with_encoding(bytes, encoding)
        .read_into(|k, v| {
            props.insert(k, v);
        })
        .map_err(|e| ConfigError::Syntax {
            path: name.to_owned(),
            // The parser's own text can quote the offending input, which may be a secret: keep
            // only the position.
            detail: match e.line_number() {
                Some(line) => format!("line {line} is not valid Java properties syntax"),
                None => "not valid Java properties syntax".to_owned(),
            },
        })?;
    Ok(props)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_separators_comments_escapes_and_continuations() {
        let text = concat!(
            "# a comment\n",
            "! another comment\n",
            "bootstrap.servers=kafka:9092\n",
            "key.converter : org.apache.kafka.connect.json.JsonConverter\n",
            "group.id connect-cluster\n",
            "plugin.path=/usr/share/java,\\\n",
            "    /opt/connectors\n",
            "key\\ with\\ spaces=v\\=1\n",
            "unicode=caf\\u00e9\n",
            "tabbed=a\\tb\n",
            "empty=\n",
            "repeated=first\n",
            "repeated=second\n",
        );
        let p = parse_properties(text.as_bytes(), "w.properties").unwrap();
        assert_eq!(p["bootstrap.servers"], "kafka:9092");
        assert_eq!(
            p["key.converter"],
            "org.apache.kafka.connect.json.JsonConverter"
        );
        assert_eq!(p["group.id"], "connect-cluster");
        assert_eq!(p["plugin.path"], "/usr/share/java,/opt/connectors");
        assert_eq!(p["key with spaces"], "v=1");
        assert_eq!(p["unicode"], "café");
        assert_eq!(p["tabbed"], "a\tb");
        assert_eq!(p["empty"], "");
        assert_eq!(p["repeated"], "second");
        assert_eq!(p.len(), 9, "{p:?}");
    }

    #[test]
    fn reads_utf8_and_latin1_files() {
        let p = parse_properties("name=Zoë\n".as_bytes(), "x").unwrap();
        assert_eq!(p["name"], "Zoë");
        // 0xEB is ë in Latin-1 and not valid UTF-8 on its own.
        let p = parse_properties(b"name=Zo\xEB\n", "x").unwrap();
        assert_eq!(p["name"], "Zoë");
    }

    #[test]
    fn errors_name_the_file() {
        let err = parse_properties(b"bad=\\u12\n", "worker.properties").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("worker.properties: line 1"), "{text}");

        let missing = Path::new("/nonexistent/dir/worker.properties");
        let text = load_properties(missing).unwrap_err().to_string();
        assert!(
            text.starts_with("/nonexistent/dir/worker.properties: could not read"),
            "{text}"
        );
    }

    #[test]
    fn loads_from_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.properties");
        std::fs::write(&path, "a=1\nb.c=2\n").unwrap();
        let p = load_properties(&path).unwrap();
        assert_eq!(p.get("a").map(String::as_str), Some("1"));
        assert_eq!(p.get("b.c").map(String::as_str), Some("2"));
    }
}
