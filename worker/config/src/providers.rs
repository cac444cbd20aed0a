//! Config providers: `${provider:[path:]key}` references to secrets kept outside the configuration
//! (Kafka's `ConfigTransformer` with the file, directory and environment-variable providers).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;
use sluice_api::Props;
use sluice_api::config::HIDDEN;

use crate::ConfigError;

/// Kafka's variable pattern: provider, then an optional path, then the key.
static PLACEHOLDER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\$\{([^}]*?):(([^}]*?):)?([^}]*?)\}").expect("the placeholder pattern is valid")
});

/// The worker key listing the provider names.
pub(crate) const CONFIG_PROVIDERS: &str = "config.providers";
/// Prefix of every per-provider setting.
pub(crate) const CONFIG_PROVIDERS_PREFIX: &str = "config.providers.";

const FILE_CLASS: &str = "org.apache.kafka.common.config.provider.FileConfigProvider";
const DIRECTORY_CLASS: &str = "org.apache.kafka.common.config.provider.DirectoryConfigProvider";
const ENV_CLASS: &str = "org.apache.kafka.common.config.provider.EnvVarConfigProvider";
const ALLOWED_PATHS: &str = "allowed.paths";
const ALLOWLIST_PATTERN: &str = "allowlist.pattern";

/// Whether `value` holds at least one `${provider:[path:]key}` reference.
pub fn has_placeholder(value: &str) -> bool {
    PLACEHOLDER.is_match(value)
}

/// The kinds of provider Sluice implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    /// `FileConfigProvider`: path = a Java properties file, key = a property in it.
    File,
    /// `DirectoryConfigProvider`: path = a directory, key = a file name, value = its content.
    Directory,
    /// `EnvVarConfigProvider`: key = an environment variable; the path is ignored.
    EnvVar,
}

impl ProviderKind {
    /// The kind for a `config.providers.NAME.class` value: Kafka's class name, its simple name, or
    /// the short names `file`, `directory`, `env`.
    pub fn from_class(class: &str) -> Option<Self> {
        match class.trim() {
            FILE_CLASS | "FileConfigProvider" | "file" => Some(Self::File),
            DIRECTORY_CLASS | "DirectoryConfigProvider" | "directory" => Some(Self::Directory),
            ENV_CLASS | "EnvVarConfigProvider" | "env" => Some(Self::EnvVar),
            _ => None,
        }
    }

    /// Kafka's class name for this kind.
    pub fn class_name(self) -> &'static str {
        match self {
            Self::File => FILE_CLASS,
            Self::Directory => DIRECTORY_CLASS,
            Self::EnvVar => ENV_CLASS,
        }
    }
}

/// The directories a file or directory provider may read (`allowed.paths`); unset = anywhere.
#[derive(Debug, Clone, Default)]
struct AllowedPaths {
    /// Each allowed root, lexically normalised and with symlinks resolved.
    roots: Option<Vec<(PathBuf, PathBuf)>>,
}

impl AllowedPaths {
    fn parse(value: Option<&str>, key: &str, origin: &str) -> Result<Self, ConfigError> {
        let Some(value) = value.filter(|v| !v.trim().is_empty()) else {
            return Ok(Self::default());
        };
        let mut roots = Vec::new();
        for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let lexical = normalize(Path::new(item));
            let canonical = if lexical.is_absolute() {
                std::fs::canonicalize(&lexical).ok()
            } else {
                None
            };
            let Some(canonical) = canonical else {
                return Err(ConfigError::Invalid {
                    origin: origin.to_owned(),
                    key: key.to_owned(),
                    message: format!(
                        "Path {} in {key} is not valid. The path should be absolute and exist",
                        lexical.display()
                    ),
                });
            };
            roots.push((lexical, canonical));
        }
        Ok(Self { roots: Some(roots) })
    }

    /// The path to read for `requested`, or `None` when it lies outside the allowed roots (after
    /// removing `..` and, for paths that exist, resolving symlinks).
    fn check(&self, requested: &str) -> Option<PathBuf> {
        let Some(roots) = &self.roots else {
            return Some(PathBuf::from(requested));
        };
        let lexical = normalize(Path::new(requested));
        if !lexical.is_absolute()
            || !roots
                .iter()
                .any(|(l, c)| lexical.starts_with(l) || lexical.starts_with(c))
        {
            return None;
        }
        self.contains_real(&lexical).then_some(lexical)
    }

    /// Whether the real location of `path` (symlinks resolved) is inside a root; paths that do not
    /// exist pass here and fail when read.
    fn contains_real(&self, path: &Path) -> bool {
        let Some(roots) = &self.roots else {
            return true;
        };
        match std::fs::canonicalize(path) {
            Ok(real) => roots.iter().any(|(_, c)| real.starts_with(c)),
            Err(_) => true,
        }
    }
}

/// Removes `.` and resolves `..` without touching the file system (like Java's `Path.normalize`).
fn normalize(path: &Path) -> PathBuf {
    let mut out: Vec<Component<'_>> = Vec::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.last() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => out.push(c),
            },
            c => out.push(c),
        }
    }
    out.iter().collect()
}

/// One configured provider.
#[derive(Clone)]
enum Provider {
    File {
        allowed: AllowedPaths,
    },
    Directory {
        allowed: AllowedPaths,
    },
    EnvVar {
        allowlist: Regex,
        vars: BTreeMap<String, String>,
    },
}

impl Provider {
    fn kind(&self) -> ProviderKind {
        match self {
            Self::File { .. } => ProviderKind::File,
            Self::Directory { .. } => ProviderKind::Directory,
            Self::EnvVar { .. } => ProviderKind::EnvVar,
        }
    }
}

/// The config providers a worker has set up with `config.providers`.
#[derive(Clone, Default)]
pub struct ConfigProviders {
    providers: BTreeMap<String, Provider>,
}

impl fmt::Debug for ConfigProviders {
    // Never prints the environment snapshot the env provider holds.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.providers.iter().map(|(n, p)| (n, p.kind())))
            .finish()
    }
}

/// The outcome of resolving references in a set of properties.
#[derive(Clone, Default)]
pub struct Resolved {
    /// The properties with every resolvable reference replaced.
    pub props: Props,
    /// The keys whose raw value held at least one reference (resolved or not).
    pub keys_with_placeholders: BTreeSet<String>,
    /// Every value a reference resolved to, for [`Scrubber`].
    pub secrets: Vec<String>,
}

impl fmt::Debug for Resolved {
    // Resolved values are secrets: show only which keys had references.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resolved")
            .field("keys", &self.props.keys().collect::<Vec<_>>())
            .field("keys_with_placeholders", &self.keys_with_placeholders)
            .field("secrets", &format_args!("{} {HIDDEN}", self.secrets.len()))
            .finish()
    }
}

/// A parsed reference.
struct Reference<'a> {
    whole: &'a str,
    provider: &'a str,
    path: &'a str,
    key: &'a str,
}

impl ConfigProviders {
    /// No providers: every reference stays as written.
    pub fn none() -> Self {
        Self::default()
    }

    /// The providers set up by worker properties: `config.providers=a,b`,
    /// `config.providers.a.class=...`, `config.providers.a.param.*=...`. The environment-variable
    /// provider reads this process's environment.
    pub fn from_worker_props(props: &Props) -> Result<Self, ConfigError> {
        Self::from_worker_props_with_env(props, process_env())
    }

    /// Like [`ConfigProviders::from_worker_props`], with the environment the env provider reads.
    pub fn from_worker_props_with_env<I: IntoIterator<Item = (String, String)>>(
        props: &Props,
        env: I,
    ) -> Result<Self, ConfigError> {
        Self::build(props, env, &|_| "worker configuration".to_owned())
    }

    /// Builds the providers; `origin` tells errors where a key came from.
    pub(crate) fn build<I: IntoIterator<Item = (String, String)>>(
        props: &Props,
        env: I,
        origin: &dyn Fn(&str) -> String,
    ) -> Result<Self, ConfigError> {
        let names: Vec<&str> = props
            .get(CONFIG_PROVIDERS)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let mut env: Option<BTreeMap<String, String>> = Some(env.into_iter().collect());
        let mut providers = BTreeMap::new();
        for name in names {
            let class_key = format!("{CONFIG_PROVIDERS_PREFIX}{name}.class");
            let Some(class) = props.get(&class_key) else {
                return Err(ConfigError::Invalid {
                    origin: origin(CONFIG_PROVIDERS),
                    key: class_key.clone(),
                    message: format!(
                        "Missing required configuration \"{class_key}\" which has no default value (config provider '{name}' is listed in {CONFIG_PROVIDERS})."
                    ),
                });
            };
            let Some(kind) = ProviderKind::from_class(class) else {
                return Err(ConfigError::Invalid {
                    origin: origin(&class_key),
                    key: class_key.clone(),
                    message: format!(
                        "Invalid value {} for configuration {class_key}: unknown config provider class; Sluice provides {FILE_CLASS}, {DIRECTORY_CLASS} and {ENV_CLASS} (or file, directory, env)",
                        class.trim()
                    ),
                });
            };
            let param_prefix = format!("{CONFIG_PROVIDERS_PREFIX}{name}.param.");
            let params = sluice_api::config::strip_prefix(props, &param_prefix);
            let known_param = match kind {
                ProviderKind::File | ProviderKind::Directory => ALLOWED_PATHS,
                ProviderKind::EnvVar => ALLOWLIST_PATTERN,
            };
            for param in params.keys().filter(|p| *p != known_param) {
                tracing::warn!(
                    "The configuration '{param_prefix}{param}' was supplied but isn't a known parameter of {}",
                    kind.class_name()
                );
            }
            let param_key = format!("{param_prefix}{known_param}");
            let provider = match kind {
                ProviderKind::File => Provider::File {
                    allowed: AllowedPaths::parse(
                        params.get(ALLOWED_PATHS).map(String::as_str),
                        &param_key,
                        &origin(&param_key),
                    )?,
                },
                ProviderKind::Directory => Provider::Directory {
                    allowed: AllowedPaths::parse(
                        params.get(ALLOWED_PATHS).map(String::as_str),
                        &param_key,
                        &origin(&param_key),
                    )?,
                },
                ProviderKind::EnvVar => {
                    let pattern = params
                        .get(ALLOWLIST_PATTERN)
                        .map(String::as_str)
                        .unwrap_or(".*");
                    let allowlist = Regex::new(pattern).map_err(|e| ConfigError::Invalid {
                        origin: origin(&param_key),
                        key: param_key.clone(),
                        message: format!(
                            "Invalid value {pattern} for configuration {param_key}: not a valid regular expression: {e}"
                        ),
                    })?;
                    // Several env providers are rare; the first takes the snapshot, others copy.
                    let vars = match env.take() {
                        Some(vars) => vars,
                        None => providers
                            .values()
                            .find_map(|p| match p {
                                Provider::EnvVar { vars, .. } => Some(vars.clone()),
                                _ => None,
                            })
                            .unwrap_or_default(),
                    };
                    Provider::EnvVar { allowlist, vars }
                }
            };
            providers.insert(name.to_owned(), provider);
        }
        Ok(Self { providers })
    }

    /// The configured provider names.
    pub fn names(&self) -> Vec<&str> {
        self.providers.keys().map(String::as_str).collect()
    }

    /// The kind of a configured provider.
    pub fn kind(&self, name: &str) -> Option<ProviderKind> {
        self.providers.get(name).map(Provider::kind)
    }

    /// Whether no provider is configured.
    pub fn is_empty(&self) -> bool {
        self.providers.is_empty()
    }

    /// Replaces every `${provider:[path:]key}` reference in `props` with the provider's value.
    ///
    /// A reference whose key is not found, or whose provider is not configured, is left as
    /// written, with a warning naming the reference. Errors name the key that held the reference.
    pub fn resolve(&self, props: &Props) -> Result<Resolved, ConfigError> {
        let mut out = Resolved::default();
        let mut secrets = BTreeSet::new();
        let mut files: HashMap<PathBuf, Props> = HashMap::new();
        for (key, value) in props {
            if !has_placeholder(value) {
                out.props.insert(key.clone(), value.clone());
                continue;
            }
            out.keys_with_placeholders.insert(key.clone());
            let mut resolved = String::with_capacity(value.len());
            let mut last = 0;
            for caps in PLACEHOLDER.captures_iter(value) {
                let (Some(whole), Some(provider), Some(name)) =
                    (caps.get(0), caps.get(1), caps.get(4))
                else {
                    continue;
                };
                let reference = Reference {
                    whole: whole.as_str(),
                    provider: provider.as_str(),
                    path: caps.get(3).map_or("", |m| m.as_str()),
                    key: name.as_str(),
                };
                resolved.push_str(&value[last..whole.start()]);
                match self.lookup(&reference, key, &mut files)? {
                    Some(secret) => {
                        resolved.push_str(&secret);
                        secrets.insert(secret);
                    }
                    None => resolved.push_str(reference.whole),
                }
                last = whole.end();
            }
            resolved.push_str(&value[last..]);
            out.props.insert(key.clone(), resolved);
        }
        out.secrets = secrets.into_iter().collect();
        Ok(out)
    }

    /// The value of one reference; `None` leaves it as written.
    fn lookup(
        &self,
        r: &Reference<'_>,
        config_key: &str,
        files: &mut HashMap<PathBuf, Props>,
    ) -> Result<Option<String>, ConfigError> {
        let Some(provider) = self.providers.get(r.provider) else {
            tracing::warn!(
                "Config provider '{}' used by {} in '{config_key}' is not configured (see {CONFIG_PROVIDERS}); leaving the reference as it is",
                r.provider,
                r.whole
            );
            return Ok(None);
        };
        let error = |message: String| ConfigError::Provider {
            key: config_key.to_owned(),
            message,
        };
        let outside = |what: &str| {
            error(format!(
                "the {what} {} is outside the allowed.paths of config provider '{}'",
                r.path, r.provider
            ))
        };
        let found = match provider {
            Provider::File { allowed } => {
                if r.path.is_empty() {
                    None
                } else {
                    let path = allowed.check(r.path).ok_or_else(|| outside("file"))?;
                    if !files.contains_key(&path) {
                        let bytes = std::fs::read(&path).map_err(|e| {
                            error(format!(
                                "config provider '{}' could not read the properties file {}: {e}",
                                r.provider, r.path
                            ))
                        })?;
                        let parsed =
                            crate::properties::parse_properties(&bytes, r.path).map_err(|e| {
                                error(format!(
                                    "config provider '{}' could not parse {e}",
                                    r.provider
                                ))
                            })?;
                        files.insert(path.clone(), parsed);
                    }
                    files.get(&path).and_then(|p| p.get(r.key)).cloned()
                }
            }
            Provider::Directory { allowed } => {
                let plain_name = !r.key.is_empty()
                    && !r.key.contains(['/', '\\'])
                    && r.key != "."
                    && r.key != "..";
                if r.path.is_empty() || !plain_name {
                    None
                } else {
                    let dir = allowed.check(r.path).ok_or_else(|| outside("directory"))?;
                    let file = dir.join(r.key);
                    // Follows symlinks, as Kubernetes secret volumes need; the real file must
                    // still be inside allowed.paths.
                    let regular = std::fs::metadata(&file).is_ok_and(|m| m.is_file());
                    if !regular {
                        None
                    } else if !allowed.contains_real(&file) {
                        return Err(outside("directory"));
                    } else {
                        let bytes = std::fs::read(&file).map_err(|e| {
                            error(format!(
                                "config provider '{}' could not read the file {} in {}: {e}",
                                r.provider, r.key, r.path
                            ))
                        })?;
                        Some(String::from_utf8_lossy(&bytes).into_owned())
                    }
                }
            }
            Provider::EnvVar { allowlist, vars } => {
                if !r.path.is_empty() {
                    tracing::warn!(
                        "Config provider '{}' reads environment variables and ignores the path in {} ('{config_key}')",
                        r.provider,
                        r.whole
                    );
                }
                if allowlist.is_match(r.key) {
                    vars.get(r.key).cloned()
                } else {
                    None
                }
            }
        };
        if found.is_none() {
            tracing::warn!(
                "Config provider '{}' has no value for {} in '{config_key}'; leaving the reference as it is",
                r.provider,
                r.whole
            );
        }
        Ok(found)
    }
}

/// This process's environment, skipping variables that are not valid Unicode.
pub(crate) fn process_env() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// Hides secrets in text: every occurrence of a resolved value becomes `[hidden]`.
///
/// Values shorter than 3 characters are left alone; hiding every `1` or `a` would garble text
/// without protecting anything.
#[derive(Clone, Default)]
pub struct Scrubber {
    /// Longest first, so that a secret containing another is hidden whole.
    secrets: Vec<String>,
}

impl fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Scrubber({} secrets)", self.secrets.len())
    }
}

impl Scrubber {
    /// A scrubber for these values.
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let mut secrets: Vec<String> = secrets
            .into_iter()
            .filter(|s| s.chars().count() >= 3)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Self { secrets }
    }

    /// `text` with every secret replaced by `[hidden]`.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), HIDDEN);
            }
        }
        out
    }

    /// Whether there is nothing to hide.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }
}

#[cfg(test)]
mod tests;
