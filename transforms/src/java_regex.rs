//! Java regular expression semantics on top of the `regex` crate.
//!
//! Users write Kafka configs with `java.util.regex` in mind. Two behaviours matter here:
//!
//! * `Matcher.matches()` succeeds only when the whole input matches; [`JavaRegex::matches`] checks
//!   exactly that, with the pattern anchored at both ends (not by comparing the span of the first
//!   match, which for `a|ab` against `ab` would be too short).
//! * `Matcher.replaceFirst(replacement)` expands Java's replacement syntax: `$n` (the longest
//!   digit run naming an existing group), `${name}`, and `\x` for a literal `x`. The `regex` crate's
//!   own syntax differs (`$1a` names a group `1a` there), so [`JavaReplacement`] parses Java's
//!   syntax once, resolving every reference to a group index, and expands it itself.
//!
//! Patterns using features the `regex` crate lacks (look-around, back-references, possessive
//! quantifiers) fail to compile and are reported as configuration errors.

use std::fmt;

use regex::Regex;

/// A compiled pattern that answers both "does the whole text match" and "find the first match".
#[derive(Debug, Clone)]
pub struct JavaRegex {
    /// The pattern as written, for finding matches anywhere.
    find: Regex,
    /// The pattern anchored at both ends, for whole-input matches.
    whole: Regex,
}

impl JavaRegex {
    /// Compiles a pattern; the error text says what is wrong with it.
    pub fn new(pattern: &str) -> Result<Self, String> {
        let find = Regex::new(pattern).map_err(|e| e.to_string())?;
        // In verbose mode (`(?x)`) a trailing `# comment` would swallow the closing anchor; a
        // newline ends the comment and is itself ignored there. Only that case needs it: in
        // normal mode the newline would be a literal to match.
        let whole = Regex::new(&format!(r"\A(?:{pattern})\z"))
            .or_else(|_| Regex::new(&format!("\\A(?:{pattern}\n)\\z")))
            .map_err(|e| e.to_string())?;
        Ok(Self { find, whole })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        self.find.as_str()
    }

    /// Whether the whole of `text` matches (Java's `Matcher.matches()`).
    pub fn matches(&self, text: &str) -> bool {
        self.whole.is_match(text)
    }

    /// Replaces the first match in `text` (Java's `Matcher.replaceFirst`); `text` unchanged when
    /// nothing matches.
    pub fn replace_first(&self, text: &str, replacement: &JavaReplacement) -> String {
        let Some(caps) = self.find.captures(text) else {
            return text.to_owned();
        };
        let Some(whole) = caps.get(0) else {
            return text.to_owned();
        };
        let mut out = String::with_capacity(text.len() + replacement.min_len());
        out.push_str(&text[..whole.start()]);
        replacement.expand_into(&caps, &mut out);
        out.push_str(&text[whole.end()..]);
        out
    }

    /// The number of capturing groups, not counting the whole match (Java's `groupCount()`).
    pub fn group_count(&self) -> usize {
        self.find.captures_len().saturating_sub(1)
    }

    fn group_index(&self, name: &str) -> Option<usize> {
        self.find.capture_names().position(|n| n == Some(name))
    }
}

impl fmt::Display for JavaRegex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Group(usize),
}

/// A Java replacement string, parsed against the pattern it will be used with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JavaReplacement {
    pieces: Vec<Piece>,
}

impl JavaReplacement {
    /// Parses `replacement` in Java's syntax, checking every group it names exists in `regex`.
    /// The errors are those Java would raise on the first replacement, raised up front instead.
    pub fn parse(replacement: &str, regex: &JavaRegex) -> Result<Self, String> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut chars = replacement.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some(escaped) => literal.push(escaped),
                    None => return Err("character to be escaped is missing".to_owned()),
                },
                '$' => {
                    let group = match chars.next() {
                        None => {
                            return Err("Illegal group reference: group index is missing".into());
                        }
                        Some('{') => {
                            let mut name = String::new();
                            while let Some(&n) = chars.peek() {
                                if !n.is_ascii_alphanumeric() {
                                    break;
                                }
                                name.push(n);
                                chars.next();
                            }
                            if name.is_empty() {
                                return Err("named capturing group has 0 length name".into());
                            }
                            if chars.next() != Some('}') {
                                return Err("named capturing group is missing trailing '}'".into());
                            }
                            if name.starts_with(|c: char| c.is_ascii_digit()) {
                                return Err(format!(
                                    "capturing group name {{{name}}} starts with digit character"
                                ));
                            }
                            regex
                                .group_index(&name)
                                .ok_or_else(|| format!("No group with name {{{name}}}"))?
                        }
                        Some(d) if d.is_ascii_digit() => {
                            // The first digit always names a group; further digits join it only
                            // while the number still names an existing group, so with one group
                            // `$10` is group 1 followed by a literal 0.
                            let mut index = d as usize - '0' as usize;
                            while let Some(next) = chars.peek().and_then(|n| n.to_digit(10)) {
                                let longer = index * 10 + next as usize;
                                if longer > regex.group_count() {
                                    break;
                                }
                                index = longer;
                                chars.next();
                            }
                            if index > regex.group_count() {
                                return Err(format!("No group {index}"));
                            }
                            index
                        }
                        Some(_) => return Err("Illegal group reference".into()),
                    };
                    if !literal.is_empty() {
                        pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                    }
                    pieces.push(Piece::Group(group));
                }
                other => literal.push(other),
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        Ok(Self { pieces })
    }

    fn min_len(&self) -> usize {
        self.pieces
            .iter()
            .map(|p| match p {
                Piece::Literal(s) => s.len(),
                Piece::Group(_) => 0,
            })
            .sum()
    }

    /// Appends the replacement for one match; a group that did not take part adds nothing, as in
    /// Java.
    fn expand_into(&self, caps: &regex::Captures<'_>, out: &mut String) {
        for piece in &self.pieces {
            match piece {
                Piece::Literal(s) => out.push_str(s),
                Piece::Group(i) => {
                    if let Some(m) = caps.get(*i) {
                        out.push_str(m.as_str());
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replace(pattern: &str, replacement: &str, text: &str) -> String {
        let regex = JavaRegex::new(pattern).unwrap();
        let replacement = JavaReplacement::parse(replacement, &regex).unwrap();
        regex.replace_first(text, &replacement)
    }

    fn replacement_error(pattern: &str, replacement: &str) -> String {
        let regex = JavaRegex::new(pattern).unwrap();
        JavaReplacement::parse(replacement, &regex).unwrap_err()
    }

    #[test]
    fn matches_requires_the_whole_text() {
        let r = JavaRegex::new("foo.*").unwrap();
        assert!(r.matches("foobar"));
        assert!(!r.matches("xfoobar"));
        let r = JavaRegex::new("a|ab").unwrap();
        assert!(
            r.matches("ab"),
            "a later alternative may be needed to match it all"
        );
        assert!(!JavaRegex::new("b").unwrap().matches("abc"));
        assert!(JavaRegex::new("(?i)TOPIC").unwrap().matches("topic"));
    }

    #[test]
    fn verbose_patterns_with_trailing_comments_still_anchor() {
        let r = JavaRegex::new("(?x) a b # the letters").unwrap();
        assert!(r.matches("ab"));
        assert!(!r.matches("abc"));
    }

    #[test]
    fn unsupported_or_broken_patterns_are_errors() {
        assert!(JavaRegex::new("(unclosed").is_err());
        assert!(JavaRegex::new("(?=lookahead)").is_err());
    }

    #[test]
    fn group_references_follow_java() {
        assert_eq!(replace("(.*)-(.*)", "$2_$1", "a-b"), "b_a");
        // `$1` directly followed by letters: Java reads only the digits.
        assert_eq!(replace("(\\w+)\\.raw", "$1abc", "orders.raw"), "ordersabc");
        // With one group, `$10` is group 1 then a literal 0.
        assert_eq!(replace("(x)", "$10", "x"), "x0");
        // With ten groups, `$10` is group 10.
        assert_eq!(
            replace("(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)", "$10$1", "abcdefghij"),
            "ja"
        );
        assert_eq!(
            replace("(?<env>\\w+)-logs", "logs-${env}", "prod-logs"),
            "logs-prod"
        );
        assert_eq!(replace("(.*)", "\\$1 \\\\", "t"), "$1 \\");
        assert_eq!(replace("(a)|(b)", "[$1$2]", "b"), "[b]");
        assert_eq!(replace("x", "$0$0", "axb"), "axxb");
    }

    #[test]
    fn replace_first_leaves_the_rest() {
        assert_eq!(replace("o", "0", "foo"), "f0o");
        assert_eq!(replace("z", "0", "foo"), "foo");
    }

    #[test]
    fn bad_replacements_are_reported_up_front() {
        assert_eq!(replacement_error("(a)", "$2"), "No group 2");
        assert_eq!(replacement_error("(a)", "$x"), "Illegal group reference");
        assert_eq!(
            replacement_error("(a)", "cost $"),
            "Illegal group reference: group index is missing"
        );
        assert_eq!(
            replacement_error("(a)", "end\\"),
            "character to be escaped is missing"
        );
        assert_eq!(
            replacement_error("(a)", "${nope}"),
            "No group with name {nope}"
        );
        assert_eq!(
            replacement_error("(a)", "${a"),
            "named capturing group is missing trailing '}'"
        );
        assert_eq!(
            replacement_error("(a)", "${}"),
            "named capturing group has 0 length name"
        );
        assert_eq!(
            replacement_error("(a)", "${1a}"),
            "capturing group name {1a} starts with digit character"
        );
    }
}
