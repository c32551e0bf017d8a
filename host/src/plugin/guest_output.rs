//! What a plugin prints to stdout and stderr during a call.
//!
//! A plugin author's first debugging tool is `println!`, `console.log` or
//! `print`. WASI hands those bytes to the host, which would otherwise drop
//! them; here each call gets two small in-memory pipes, and when the call
//! ends their lines go to the host's log under the plugin's name (tracing
//! target [`OUTPUT_TARGET`]), bounded so that a chatty plugin cannot flood
//! the controller's log. A trap's error also quotes the end of stderr, where
//! a panic message is.

use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

/// The tracing target of a plugin's printed lines. `certwasm plugin test`
/// shows it at `info`; the controllers show it when `--log` asks for it
/// (e.g. `--log warn,certwasm::plugin::output=info`).
pub const OUTPUT_TARGET: &str = "certwasm::plugin::output";

/// Bytes kept per stream and call; more is dropped by the pipe (the guest's
/// write then fails, as on a full disk).
const CAPACITY: usize = 16 << 10;
/// Lines forwarded per stream and call.
const MAX_LINES: usize = 100;
/// How much of stderr a trap's message quotes.
const TRAP_QUOTE: usize = 1024;

/// The two pipes of one call.
#[derive(Clone)]
pub(crate) struct GuestOutput {
    pub(crate) stdout: MemoryOutputPipe,
    pub(crate) stderr: MemoryOutputPipe,
}

impl GuestOutput {
    pub(crate) fn new() -> Self {
        Self {
            stdout: MemoryOutputPipe::new(CAPACITY),
            stderr: MemoryOutputPipe::new(CAPACITY),
        }
    }

    /// Writes what the call printed to the host's log, one event per line.
    pub(crate) fn forward(&self, plugin: &str, subject: &str) {
        for (stream, pipe) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            let bytes = pipe.contents();
            if bytes.is_empty() {
                continue;
            }
            let text = String::from_utf8_lossy(&bytes);
            let (lines, dropped) = bounded_lines(&text, MAX_LINES);
            for line in lines {
                tracing::info!(target: OUTPUT_TARGET, plugin, subject, stream, "{line}");
            }
            if dropped > 0 {
                tracing::info!(
                    target: OUTPUT_TARGET,
                    plugin,
                    subject,
                    stream,
                    "… {dropped} more lines not shown"
                );
            }
        }
    }

    /// The end of stderr, for a trap's message (a panic prints there).
    pub(crate) fn stderr_tail(&self) -> String {
        let bytes = self.stderr.contents();
        let text = String::from_utf8_lossy(&bytes);
        tail(text.trim(), TRAP_QUOTE).to_owned()
    }
}

/// The first `max` non-empty lines of `text` (without trailing carriage
/// returns), and how many non-empty lines were left out.
pub(crate) fn bounded_lines(text: &str, max: usize) -> (Vec<&str>, usize) {
    let mut lines = text
        .lines()
        .map(|line| line.trim_end_matches('\r'))
        .filter(|line| !line.trim().is_empty());
    let kept: Vec<&str> = lines.by_ref().take(max).collect();
    (kept, lines.count())
}

/// The last `max` bytes of `text`, on a character boundary.
pub(crate) fn tail(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_bounded_and_counted() {
        let text = "one\r\n\ntwo\nthree\n   \nfour";
        assert_eq!(
            bounded_lines(text, 10),
            (vec!["one", "two", "three", "four"], 0)
        );
        assert_eq!(bounded_lines(text, 2), (vec!["one", "two"], 2));
        assert_eq!(bounded_lines("", 2), (Vec::<&str>::new(), 0));
    }

    #[test]
    fn tail_keeps_the_end_on_a_character_boundary() {
        assert_eq!(tail("abc", 10), "abc");
        assert_eq!(tail("abcdef", 3), "def");
        // 'é' is two bytes: a cut inside it moves forward.
        assert_eq!(tail("aéb", 2), "b");
    }
}
