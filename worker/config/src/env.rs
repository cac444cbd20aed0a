//! `CONNECT_*` environment variables as worker settings (the Confluent image's mapping; the rules
//! are in the crate documentation).

use std::collections::BTreeMap;

use sluice_api::Props;

const PREFIX: &str = "CONNECT_";

/// Variables with the prefix that are not worker settings.
fn is_skipped(var: &str) -> bool {
    // The image's properties template excludes this one by name.
    var == "CONNECT_METRIC_REPORTERS"
        // The image's logging template reads these; they are not worker settings.
        || var.starts_with("CONNECT_LOG4J_")
}

/// The worker settings given by `CONNECT_*` variables in `env`, keyed by property name.
///
/// `CONNECT_BOOTSTRAP_SERVERS` → `bootstrap.servers`, `CONNECT_CONFIG_PROVIDERS_FILE_CLASS` →
/// `config.providers.file.class`, `CONNECT_A__B` → `a_b`, `CONNECT_A___B` → `a-b`.
pub fn env_overrides<I: IntoIterator<Item = (String, String)>>(env: I) -> Props {
    env_overrides_with_origin(env)
        .into_iter()
        .map(|(key, (_, value))| (key, value))
        .collect()
}

/// Like [`env_overrides`], keeping for each key the variable it came from: `key → (var, value)`.
pub(crate) fn env_overrides_with_origin<I: IntoIterator<Item = (String, String)>>(
    env: I,
) -> BTreeMap<String, (String, String)> {
    // Sorted by variable name so that two variables mapping to one key resolve the same way on
    // every run.
    let vars: BTreeMap<String, String> = env.into_iter().collect();
    let mut out = BTreeMap::new();
    for (var, value) in vars {
        let Some(rest) = var.strip_prefix(PREFIX) else {
            continue;
        };
        if rest.is_empty() || is_skipped(&var) {
            continue;
        }
        out.insert(property_name(rest), (var.clone(), value));
    }
    out
}

/// The property name for the part of a variable name after `CONNECT_`.
fn property_name(rest: &str) -> String {
    let lower = rest.to_lowercase();
    let chars: Vec<char> = lower.chars().collect();
    let mut out = String::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '_' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && chars[i] == '_' {
            i += 1;
        }
        let run = i - start;
        if run == 1 {
            // Only an underscore with a character on both sides is a dot.
            let inner = start > 0 && i < chars.len();
            out.push(if inner { '.' } else { '_' });
        } else {
            // `___` → `-` first, then `__` → `_`, left to right, as the image's tool does.
            for _ in 0..run / 3 {
                out.push('-');
            }
            if run % 3 != 0 {
                out.push('_');
            }
        }
    }
    out
}

/// The `CONNECT_*` variable that sets `key`, when one can (keys with upper-case letters, such as
/// `transforms.myAlias.type`, cannot be set from the environment).
pub fn env_var_for_key(key: &str) -> Option<String> {
    let mut var = String::from(PREFIX);
    for c in key.chars() {
        match c {
            '.' => var.push('_'),
            '_' => var.push_str("__"),
            '-' => var.push_str("___"),
            c => var.extend(c.to_uppercase()),
        }
    }
    let round_trips = var
        .strip_prefix(PREFIX)
        .is_some_and(|rest| property_name(rest) == key);
    (round_trips && !is_skipped(&var)).then_some(var)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn maps_like_the_confluent_image() {
        let p = env_overrides(env(&[
            ("CONNECT_BOOTSTRAP_SERVERS", "kafka:29092"),
            ("CONNECT_CONFIG_PROVIDERS_FILE_CLASS", "FileConfigProvider"),
            ("CONNECT_KEY_CONVERTER_SCHEMAS_ENABLE", "false"),
            ("CONNECT_SOME__UNDERSCORED_KEY", "u"),
            ("CONNECT_SOME___DASHED_KEY", "d"),
            ("CONNECT_FOUR____X", "4"),
            ("PATH", "/usr/bin"),
            ("KAFKA_HEAP_OPTS", "-Xmx1g"),
            ("connect_lower", "ignored: the prefix is case-sensitive"),
        ]));
        let expected: Props = [
            ("bootstrap.servers", "kafka:29092"),
            ("config.providers.file.class", "FileConfigProvider"),
            ("key.converter.schemas.enable", "false"),
            ("some_underscored.key", "u"),
            ("some-dashed.key", "d"),
            ("four-_x", "4"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(p, expected);
    }

    #[test]
    fn edge_underscores_stay_underscores() {
        assert_eq!(property_name("_LEADING"), "_leading");
        assert_eq!(property_name("TRAILING_"), "trailing_");
        assert_eq!(property_name("A_B_C"), "a.b.c");
    }

    #[test]
    fn skips_the_images_own_variables() {
        let p = env_overrides(env(&[
            ("CONNECT_LOG4J_ROOT_LOGLEVEL", "DEBUG"),
            ("CONNECT_LOG4J_LOGGERS", "org.reflections=ERROR"),
            ("CONNECT_METRIC_REPORTERS", "x"),
            ("CONNECT_", "empty remainder"),
            ("CONNECT_GROUP_ID", "g"),
        ]));
        assert_eq!(p.keys().collect::<Vec<_>>(), vec!["group.id"]);
    }

    #[test]
    fn keeps_the_origin_variable() {
        let p = env_overrides_with_origin(env(&[("CONNECT_REST_PORT", "8083")]));
        assert_eq!(
            p["rest.port"],
            ("CONNECT_REST_PORT".to_string(), "8083".to_string())
        );
    }

    #[test]
    fn finds_the_variable_for_a_key() {
        assert_eq!(
            env_var_for_key("key.converter").as_deref(),
            Some("CONNECT_KEY_CONVERTER")
        );
        assert_eq!(
            env_var_for_key("a_b-c.d").as_deref(),
            Some("CONNECT_A__B___C_D")
        );
        assert_eq!(env_var_for_key("transforms.myAlias.type"), None);
        assert_eq!(env_var_for_key(".leading.dot"), None);
    }
}
