//! Writing Java `.properties` files (worker and connector configs) from key-value pairs.
//!
//! Keys and values are escaped the way `java.util.Properties.store` does, and non-ASCII
//! characters are written as `\uXXXX`, so the files read back identically in Java's ISO-8859-1
//! reader and in UTF-8 readers.

use std::path::{Path, PathBuf};

/// A key-value pair of strings in any owned or borrowed form: `("k", "v")`, `&("k", "v")`,
/// `(String, String)`, ...
pub trait PropertyPair {
    /// The key.
    fn key(&self) -> &str;
    /// The value.
    fn value(&self) -> &str;
}

impl<K: AsRef<str>, V: AsRef<str>> PropertyPair for (K, V) {
    fn key(&self) -> &str {
        self.0.as_ref()
    }
    fn value(&self) -> &str {
        self.1.as_ref()
    }
}

impl<P: PropertyPair + ?Sized> PropertyPair for &P {
    fn key(&self) -> &str {
        (**self).key()
    }
    fn value(&self) -> &str {
        (**self).value()
    }
}

/// Copies pairs into owned strings.
pub fn to_owned_pairs(pairs: impl IntoIterator<Item: PropertyPair>) -> Vec<(String, String)> {
    pairs
        .into_iter()
        .map(|p| (p.key().to_owned(), p.value().to_owned()))
        .collect()
}

/// The text of a `.properties` file holding `pairs` in order, one per line.
pub fn properties_text(pairs: impl IntoIterator<Item: PropertyPair>) -> String {
    let mut text = String::new();
    for pair in pairs {
        escape_into(&mut text, pair.key(), true);
        text.push('=');
        escape_into(&mut text, pair.value(), false);
        text.push('\n');
    }
    text
}

/// Writes `pairs` as a `.properties` file at `path` and returns the path.
pub fn write_properties(
    path: impl AsRef<Path>,
    pairs: impl IntoIterator<Item: PropertyPair>,
) -> PathBuf {
    let path = path.as_ref();
    std::fs::write(path, properties_text(pairs))
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    path.to_owned()
}

fn escape_into(out: &mut String, s: &str, is_key: bool) {
    for (i, c) in s.chars().enumerate() {
        match c {
            ' ' if is_key || i == 0 => out.push_str("\\ "),
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\u{c}' => out.push_str("\\f"),
            '=' | ':' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04X}"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_pairs_are_written_as_is() {
        let text = properties_text(&[("name", "local-file-source"), ("tasks.max", "1")]);
        assert_eq!(text, "name=local-file-source\ntasks.max=1\n");
    }

    #[test]
    fn special_characters_are_escaped() {
        let text = properties_text([("a key", " x=y:z\\#!\n")]);
        assert_eq!(text, "a\\ key=\\ x\\=y\\:z\\\\\\#\\!\\n\n");
    }

    #[test]
    fn non_ascii_is_written_as_utf16_escapes() {
        let text = properties_text([(String::from("k"), String::from("é😀"))]);
        assert_eq!(text, "k=\\u00E9\\uD83D\\uDE00\n");
    }
}
