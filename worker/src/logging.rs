//! Logging set-up, with secrets kept out of every log line.
//!
//! Values resolved from config providers are registered here as they are resolved; the log writer
//! replaces any of them by `[hidden]` before a line reaches stderr. This holds for whatever a
//! plugin logs, not only for the worker's own messages.

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::{LazyLock, PoisonError, RwLock};

use sluice_config::Scrubber;
use tracing_subscriber::fmt::MakeWriter;

struct Secrets {
    values: BTreeSet<String>,
    scrubber: Scrubber,
}

static SECRETS: LazyLock<RwLock<Secrets>> = LazyLock::new(|| {
    RwLock::new(Secrets {
        values: BTreeSet::new(),
        scrubber: Scrubber::default(),
    })
});

/// Adds resolved secret values to hide from logs from now on.
pub fn register_secrets<'a>(values: impl IntoIterator<Item = &'a String>) {
    let new: Vec<&String> = {
        let secrets = SECRETS.read().unwrap_or_else(PoisonError::into_inner);
        values
            .into_iter()
            .filter(|v| !secrets.values.contains(*v))
            .collect()
    };
    if new.is_empty() {
        return;
    }
    let mut secrets = SECRETS.write().unwrap_or_else(PoisonError::into_inner);
    secrets.values.extend(new.into_iter().cloned());
    secrets.scrubber = Scrubber::new(secrets.values.iter().cloned());
}

/// `text` with every registered secret hidden.
pub fn scrub(text: &str) -> String {
    SECRETS
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .scrubber
        .scrub(text)
}

/// Writes log lines to stderr with secrets hidden.
#[derive(Clone, Copy, Default)]
pub struct ScrubbingStderr;

/// One log event's writer (the formatter writes each event in one call).
pub struct ScrubbingWriter;

impl Write for ScrubbingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(scrub(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> MakeWriter<'a> for ScrubbingStderr {
    type Writer = ScrubbingWriter;

    fn make_writer(&'a self) -> Self::Writer {
        ScrubbingWriter
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_secrets_are_hidden() {
        let secret = "s3cr3t-logging-test-value".to_owned();
        assert_eq!(
            scrub("x s3cr3t-logging-test-value y"),
            "x s3cr3t-logging-test-value y"
        );
        register_secrets([&secret]);
        assert_eq!(scrub("x s3cr3t-logging-test-value y"), "x [hidden] y");
    }
}
