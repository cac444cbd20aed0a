//! JSON text in and out, byte-compatible with the Jackson setup Kafka's `JsonConverter` uses.
//!
//! A small parser of our own keeps every number's exact text (Kafka reads floats as `BigDecimal`,
//! so decimals must not pass through `f64`) and accepts leading zeros as Kafka enables; the writer
//! escapes strings and formats floats exactly as Jackson does.

use std::ops::Range;

/// The deepest nesting accepted, as Jackson's default stream constraints limit it.
const MAX_DEPTH: usize = 1000;

/// A parsed JSON value; objects keep their members in order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum JsonNode {
    Null,
    Bool(bool),
    /// A number with its original text, already checked against the JSON grammar.
    Number(String),
    String(String),
    Array(Vec<JsonNode>),
    Object(Vec<(String, JsonNode)>),
}

impl JsonNode {
    /// Jackson's node type name, for error messages Kafka users know.
    pub(crate) fn node_type(&self) -> &'static str {
        match self {
            Self::Null => "NULL",
            Self::Bool(_) => "BOOLEAN",
            Self::Number(_) => "NUMBER",
            Self::String(_) => "STRING",
            Self::Array(_) => "ARRAY",
            Self::Object(_) => "OBJECT",
        }
    }

    /// An object member by name.
    pub(crate) fn get(&self, key: &str) -> Option<&JsonNode> {
        match self {
            Self::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The text of a string node.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }

    /// Whether this is a number written without fraction or exponent (Jackson's integral nodes).
    pub(crate) fn is_integral_number(&self) -> bool {
        matches!(self, Self::Number(text) if !text.contains(['.', 'e', 'E']))
    }
}

/// The result of parsing a whole message.
#[derive(Debug)]
pub(crate) struct Document {
    /// The root value; `None` when the input holds only whitespace (Jackson's missing node).
    pub(crate) root: Option<JsonNode>,
    /// For a root object, the byte range of each member's value text, so callers can cache on it.
    pub(crate) member_spans: Vec<(String, Range<usize>)>,
}

/// A syntax error, with its byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JsonError(pub(crate) String);

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses one JSON document. A UTF-8 byte order mark is skipped; anything but whitespace after
/// the root value is an error (Jackson would silently ignore it and drop data).
pub(crate) fn parse_document(input: &[u8]) -> Result<Document, JsonError> {
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let text = std::str::from_utf8(input)
        .map_err(|e| JsonError(format!("Invalid UTF-8 at byte {}", e.valid_up_to())))?;
    let mut parser = Parser {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        depth: 0,
        spans: Vec::new(),
    };
    parser.skip_whitespace();
    if parser.pos == parser.bytes.len() {
        return Ok(Document {
            root: None,
            member_spans: Vec::new(),
        });
    }
    let root = parser.value()?;
    parser.skip_whitespace();
    if parser.pos != parser.bytes.len() {
        return Err(parser.error("Unexpected content after the end of the JSON value"));
    }
    Ok(Document {
        root: Some(root),
        member_spans: parser.spans,
    })
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
    spans: Vec<(String, Range<usize>)>,
}

impl Parser<'_> {
    fn error(&self, what: &str) -> JsonError {
        JsonError(format!("{what} at byte {}", self.pos))
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    fn expect_literal(&mut self, literal: &str, node: JsonNode) -> Result<JsonNode, JsonError> {
        if self.bytes[self.pos..].starts_with(literal.as_bytes()) {
            self.pos += literal.len();
            Ok(node)
        } else {
            Err(self.error("Unrecognized token"))
        }
    }

    fn value(&mut self) -> Result<JsonNode, JsonError> {
        match self.bytes.get(self.pos) {
            None => Err(self.error("Unexpected end of input")),
            Some(b'{') => self.nested(Self::object),
            Some(b'[') => self.nested(Self::array),
            Some(b'"') => self.string().map(JsonNode::String),
            Some(b't') => self.expect_literal("true", JsonNode::Bool(true)),
            Some(b'f') => self.expect_literal("false", JsonNode::Bool(false)),
            Some(b'n') => self.expect_literal("null", JsonNode::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.error("Unexpected character")),
        }
    }

    fn nested(
        &mut self,
        parse: fn(&mut Self) -> Result<JsonNode, JsonError>,
    ) -> Result<JsonNode, JsonError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error("JSON nesting too deep"));
        }
        self.depth += 1;
        let node = parse(self);
        self.depth -= 1;
        node
    }

    fn object(&mut self) -> Result<JsonNode, JsonError> {
        let record_spans = self.depth == 1;
        self.pos += 1;
        let mut members: Vec<(String, JsonNode)> = Vec::new();
        self.skip_whitespace();
        if self.bytes.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            return Ok(JsonNode::Object(members));
        }
        loop {
            self.skip_whitespace();
            if self.bytes.get(self.pos) != Some(&b'"') {
                return Err(self.error("Expected a field name"));
            }
            let key = self.string()?;
            self.skip_whitespace();
            if self.bytes.get(self.pos) != Some(&b':') {
                return Err(self.error("Expected ':'"));
            }
            self.pos += 1;
            self.skip_whitespace();
            let start = self.pos;
            let value = self.value()?;
            if record_spans {
                self.spans.push((key.clone(), start..self.pos));
            }
            // A repeated name replaces the earlier value in place, as Jackson's ObjectNode does.
            match members.iter_mut().find(|(k, _)| *k == key) {
                Some(existing) => existing.1 = value,
                None => members.push((key, value)),
            }
            self.skip_whitespace();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(JsonNode::Object(members));
                }
                _ => return Err(self.error("Expected ',' or '}'")),
            }
        }
    }

    fn array(&mut self) -> Result<JsonNode, JsonError> {
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.bytes.get(self.pos) == Some(&b']') {
            self.pos += 1;
            return Ok(JsonNode::Array(items));
        }
        loop {
            self.skip_whitespace();
            items.push(self.value()?);
            self.skip_whitespace();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(JsonNode::Array(items));
                }
                _ => return Err(self.error("Expected ',' or ']'")),
            }
        }
    }

    fn number(&mut self) -> Result<JsonNode, JsonError> {
        let start = self.pos;
        let digits = |p: &mut Self| {
            let from = p.pos;
            while p.bytes.get(p.pos).is_some_and(u8::is_ascii_digit) {
                p.pos += 1;
            }
            p.pos > from
        };
        if self.bytes[self.pos] == b'-' {
            self.pos += 1;
        }
        // Leading zeros are allowed: Kafka enables ALLOW_LEADING_ZEROS_FOR_NUMBERS.
        if !digits(self) {
            return Err(self.error("Expected a digit"));
        }
        if self.bytes.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            if !digits(self) {
                return Err(self.error("Expected a digit after the decimal point"));
            }
        }
        if let Some(b'e' | b'E') = self.bytes.get(self.pos) {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.bytes.get(self.pos) {
                self.pos += 1;
            }
            if !digits(self) {
                return Err(self.error("Expected a digit in the exponent"));
            }
        }
        Ok(JsonNode::Number(self.text[start..self.pos].to_owned()))
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let hex = self
            .text
            .get(self.pos..self.pos + 4)
            .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| self.error("Invalid \\u escape"))?;
        self.pos += 4;
        u32::from_str_radix(hex, 16).map_err(|_| self.error("Invalid \\u escape"))
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let run_start = self.pos;
            while let Some(&b) = self.bytes.get(self.pos) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            out.push_str(&self.text[run_start..self.pos]);
            match self.bytes.get(self.pos) {
                None => return Err(self.error("Unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let escape = *self
                        .bytes
                        .get(self.pos)
                        .ok_or_else(|| self.error("Unterminated string"))?;
                    self.pos += 1;
                    match escape {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let unit = self.hex4()?;
                            out.push(self.surrogate_aware_char(unit)?);
                        }
                        _ => {
                            self.pos -= 1;
                            return Err(self.error("Unrecognized character escape"));
                        }
                    }
                }
                Some(_) => return Err(self.error("Illegal unquoted control character in string")),
            }
        }
    }

    /// Combines a `\uD8xx\uDCxx` pair; a lone surrogate (legal in Java strings, not in Rust ones)
    /// becomes U+FFFD.
    fn surrogate_aware_char(&mut self, unit: u32) -> Result<char, JsonError> {
        if (0xD800..0xDC00).contains(&unit) && self.bytes[self.pos..].starts_with(b"\\u") {
            let save = self.pos;
            self.pos += 2;
            let low = self.hex4()?;
            if (0xDC00..0xE000).contains(&low) {
                let code = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                return Ok(char::from_u32(code).unwrap_or('\u{FFFD}'));
            }
            self.pos = save;
        }
        Ok(char::from_u32(unit).unwrap_or('\u{FFFD}'))
    }
}

/// Appends a JSON string literal escaped as Jackson's UTF-8 generator escapes it: `"` and `\\`,
/// the short escapes `\b \t \n \f \r`, other control characters as `\u00XX`, and characters
/// beyond the Basic Multilingual Plane as an escaped surrogate pair (`\uD83D\uDE00`), all with
/// upper-case hex; everything else as raw UTF-8.
pub(crate) fn write_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let push_unit = |out: &mut String, unit: u16| {
        out.push_str("\\u");
        for shift in [12, 8, 4, 0] {
            out.push(char::from(HEX[usize::from((unit >> shift) & 0xF)]));
        }
    };
    out.push('"');
    let mut run_start = 0;
    for (i, c) in s.char_indices() {
        let short: Option<&str> = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\u{8}' => Some("\\b"),
            '\t' => Some("\\t"),
            '\n' => Some("\\n"),
            '\u{c}' => Some("\\f"),
            '\r' => Some("\\r"),
            '\u{0}'..='\u{1f}' | '\u{10000}'.. => None,
            _ => continue,
        };
        out.push_str(&s[run_start..i]);
        run_start = i + c.len_utf8();
        match short {
            Some(escape) => out.push_str(escape),
            None => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    push_unit(out, *unit);
                }
            }
        }
    }
    out.push_str(&s[run_start..]);
    out.push('"');
}

/// Appends a double as Jackson does: `Double.toString`, with NaN and the infinities quoted.
pub(crate) fn write_f64(out: &mut String, v: f64) {
    let text = crate::java_text::double_to_string(v);
    if v.is_finite() {
        out.push_str(&text);
    } else {
        write_string(out, &text);
    }
}

/// Appends a float as Jackson does: `Float.toString`, with NaN and the infinities quoted.
pub(crate) fn write_f32(out: &mut String, v: f32) {
    let text = crate::java_text::float_to_string(v);
    if v.is_finite() {
        out.push_str(&text);
    } else {
        write_string(out, &text);
    }
}

/// Appends a parsed node back as compact JSON (numbers keep their original text).
#[cfg(test)]
pub(crate) fn write_node(out: &mut String, node: &JsonNode) {
    match node {
        JsonNode::Null => out.push_str("null"),
        JsonNode::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        JsonNode::Number(n) => out.push_str(n),
        JsonNode::String(s) => write_string(out, s),
        JsonNode::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_node(out, item);
            }
            out.push(']');
        }
        JsonNode::Object(members) => {
            out.push('{');
            for (i, (k, v)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, k);
                out.push(':');
                write_node(out, v);
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> JsonNode {
        parse_document(text.as_bytes()).unwrap().root.unwrap()
    }

    fn to_serde(node: &JsonNode) -> serde_json::Value {
        match node {
            JsonNode::Null => serde_json::Value::Null,
            JsonNode::Bool(b) => serde_json::Value::Bool(*b),
            JsonNode::Number(n) => serde_json::from_str(n).unwrap(),
            JsonNode::String(s) => serde_json::Value::String(s.clone()),
            JsonNode::Array(items) => {
                serde_json::Value::Array(items.iter().map(to_serde).collect())
            }
            JsonNode::Object(members) => serde_json::Value::Object(
                members
                    .iter()
                    .map(|(k, v)| (k.clone(), to_serde(v)))
                    .collect(),
            ),
        }
    }

    #[test]
    fn agrees_with_serde_json_on_valid_documents() {
        let docs = [
            r#"{"a":1,"b":[true,false,null],"c":{"d":"e\u00e9\n\"\\\/"},"f":-0.5e-3}"#,
            r#"  [ 1 , 2.0 , "x" , { } , [ ] ]  "#,
            r#""\ud83d\ude00 emoji""#,
            "12345678901234567890",
            r#"{"k":"tab\there","z":0}"#,
        ];
        for doc in docs {
            let ours = to_serde(&parse(doc));
            let theirs: serde_json::Value = serde_json::from_str(doc).unwrap();
            assert_eq!(ours, theirs, "{doc}");
        }
    }

    #[test]
    fn rejects_malformed_documents() {
        let bad = [
            "{",
            "[1,]",
            "{\"a\"}",
            "{\"a\":1,}",
            "tru",
            "'x'",
            "1.",
            ".5",
            "-",
            "1e",
            "\"\\x\"",
            "\"a\nb\"",
            "[1] [2]",
            "{\"a\":1} x",
            "NaN",
            "+1",
        ];
        for doc in bad {
            assert!(parse_document(doc.as_bytes()).is_err(), "{doc:?}");
        }
        assert!(parse_document(b"\"\xFF\"").is_err());
    }

    #[test]
    fn keeps_number_text_and_allows_leading_zeros() {
        assert_eq!(parse("007"), JsonNode::Number("007".into()));
        assert_eq!(
            parse("123456789.123456789123456789"),
            JsonNode::Number("123456789.123456789123456789".into())
        );
        assert!(parse("10").is_integral_number());
        assert!(!parse("1e1").is_integral_number());
        assert!(!parse("1.0").is_integral_number());
    }

    #[test]
    fn blank_input_is_missing_and_bom_is_skipped() {
        assert_eq!(parse_document(b"  \n").unwrap().root, None);
        assert_eq!(
            parse_document(b"\xEF\xBB\xBF1").unwrap().root,
            Some(JsonNode::Number("1".into()))
        );
    }

    #[test]
    fn duplicate_names_keep_the_first_position_and_last_value() {
        assert_eq!(
            parse(r#"{"a":1,"b":2,"a":3}"#),
            JsonNode::Object(vec![
                ("a".into(), JsonNode::Number("3".into())),
                ("b".into(), JsonNode::Number("2".into())),
            ])
        );
    }

    #[test]
    fn records_root_member_spans() {
        let text = r#"{"schema": {"type":"int32"} ,"payload":5}"#;
        let doc = parse_document(text.as_bytes()).unwrap();
        let spans: Vec<(&str, &str)> = doc
            .member_spans
            .iter()
            .map(|(k, r)| (k.as_str(), &text[r.clone()]))
            .collect();
        assert_eq!(
            spans,
            vec![("schema", r#"{"type":"int32"}"#), ("payload", "5")]
        );
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert!(parse_document(deep.as_bytes()).is_err());
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(parse_document(ok.as_bytes()).is_ok());
    }

    #[test]
    fn strings_are_escaped_like_jackson() {
        let mut out = String::new();
        let text = "a\"b\\c\n\t\u{1}\u{1f}\u{7f}é\u{2028}/😀";
        write_string(&mut out, text);
        assert_eq!(
            out,
            "\"a\\\"b\\\\c\\n\\t\\u0001\\u001F\u{7f}é\u{2028}/\\uD83D\\uDE00\""
        );
        assert_eq!(parse(&out), JsonNode::String(text.into()));
    }

    #[test]
    fn lone_surrogates_become_replacement_characters() {
        assert_eq!(parse(r#""\ud800x""#), JsonNode::String("\u{FFFD}x".into()));
    }

    #[test]
    fn non_finite_floats_are_quoted() {
        let mut out = String::new();
        write_f64(&mut out, f64::NAN);
        out.push(',');
        write_f32(&mut out, f32::NEG_INFINITY);
        out.push(',');
        write_f64(&mut out, 1e21);
        assert_eq!(out, "\"NaN\",\"-Infinity\",1.0E21");
    }

    #[test]
    fn write_node_round_trips() {
        let text = r#"{"a":[1,2.50,"x"],"b":{"c":null,"d":false}}"#;
        let mut out = String::new();
        write_node(&mut out, &parse(text));
        assert_eq!(out, text);
    }
}
