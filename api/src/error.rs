//! The error type shared by plugins and the runtime.

/// Result alias used across the plugin API.
pub type Result<T, E = ConnectError> = std::result::Result<T, E>;

/// An error raised by a plugin or by the framework on its behalf.
///
/// The variants mirror the Java exceptions whose handling differs: a [`ConnectError::Retriable`]
/// error is retried (within `errors.retry.timeout`, or by redelivering a sink batch), a
/// [`ConnectError::Data`] error is a bad record that `errors.tolerance=all` may skip, and a
/// [`ConnectError::Config`] error is a bad setting reported to the user.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// A setting is missing or invalid (Java `ConfigException`).
    #[error("{0}")]
    Config(String),
    /// A record could not be converted or transformed (Java `DataException`).
    #[error("{0}")]
    Data(String),
    /// A transient failure; the same operation may succeed later (Java `RetriableException`).
    #[error("{0}")]
    Retriable(String),
    /// Any other failure of a connector or task (Java `ConnectException`).
    #[error("{0}")]
    Connect(String),
    /// An I/O failure, with what was being done.
    #[error("{context}: {source}")]
    Io {
        /// What the plugin was doing, e.g. "reading /tmp/in.txt".
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl ConnectError {
    /// Builds a [`ConnectError::Config`] error.
    pub fn config(msg: impl Into<String>) -> Self {
        Self::Config(msg.into())
    }
    /// Builds a [`ConnectError::Data`] error.
    pub fn data(msg: impl Into<String>) -> Self {
        Self::Data(msg.into())
    }
    /// Builds a [`ConnectError::Retriable`] error.
    pub fn retriable(msg: impl Into<String>) -> Self {
        Self::Retriable(msg.into())
    }
    /// Builds a [`ConnectError::Connect`] error.
    pub fn connect(msg: impl Into<String>) -> Self {
        Self::Connect(msg.into())
    }
    /// Builds a [`ConnectError::Io`] error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }

    /// Whether retrying the same operation may succeed.
    pub fn is_retriable(&self) -> bool {
        matches!(self, Self::Retriable(_))
    }

    /// The Java exception class this error corresponds to; used where Kafka Connect exposes a class
    /// name (dead letter queue headers, status traces), so tools that parse them keep working.
    pub fn java_class_name(&self) -> &'static str {
        match self {
            Self::Config(_) => "org.apache.kafka.common.config.ConfigException",
            Self::Data(_) => "org.apache.kafka.connect.errors.DataException",
            Self::Retriable(_) => "org.apache.kafka.connect.errors.RetriableException",
            Self::Connect(_) => "org.apache.kafka.connect.errors.ConnectException",
            Self::Io { .. } => "java.io.IOException",
        }
    }
}
