//! The pair table printed to the terminal, like ksqlDB's push query output.

use std::collections::BTreeMap;
use std::io::Write;

use crate::engine::{TableRow, format_time_of_day, pair_label};

/// How (and whether) the pair table is printed on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableMode {
    /// Not printed.
    Off,
    /// The whole table redrawn in place after each change (for a terminal).
    Redraw,
    /// One line per changed row, as ksqlDB's CLI appends them (for pipes and logs).
    Append,
}

const HEADER: &str =
    "|IMAGE                |PAIR_SEEN            |NUMBER_SOCKS_SEEN    |LAST_SEEN  |";
const RULE: &str =
    "+---------------------+---------------------+---------------------+-----------+";

/// Prints the table when it changes.
#[derive(Debug)]
pub struct TablePrinter {
    mode: TableMode,
    shown: BTreeMap<String, (u64, Option<i64>)>,
    header_printed: bool,
}

impl TablePrinter {
    /// A printer in `mode`.
    pub fn new(mode: TableMode) -> Self {
        Self {
            mode,
            shown: BTreeMap::new(),
            header_printed: false,
        }
    }

    /// Shows `rows` (the rows of every owned partition; rows of one image are summed).
    pub fn update(&mut self, rows: impl IntoIterator<Item = TableRow>) {
        if self.mode == TableMode::Off {
            return;
        }
        let mut current: BTreeMap<String, (u64, Option<i64>)> = BTreeMap::new();
        for row in rows {
            let entry = current.entry(row.image).or_insert((0, None));
            entry.0 += row.number_socks_seen;
            entry.1 = entry.1.max(row.last_seen_ms);
        }
        if current == self.shown && self.header_printed {
            return;
        }
        let mut out = String::new();
        match self.mode {
            TableMode::Off => return,
            TableMode::Redraw => {
                // Home the cursor and clear the screen, then draw everything.
                out.push_str("\x1b[H\x1b[2J");
                out.push_str(&format!("{RULE}\n{HEADER}\n{RULE}\n"));
                for (image, (count, last_seen)) in &current {
                    out.push_str(&row_line(image, *count, *last_seen));
                }
                out.push_str(RULE);
                out.push('\n');
            }
            TableMode::Append => {
                if !self.header_printed {
                    out.push_str(&format!("{RULE}\n{HEADER}\n{RULE}\n"));
                }
                for (image, value) in &current {
                    if self.shown.get(image) != Some(value) {
                        out.push_str(&row_line(image, value.0, value.1));
                    }
                }
            }
        }
        self.header_printed = true;
        self.shown = current;
        let mut stdout = std::io::stdout().lock();
        // A closed stdout must not stop the job.
        let _ = stdout.write_all(out.as_bytes());
        let _ = stdout.flush();
    }
}

fn row_line(image: &str, count: u64, last_seen: Option<i64>) -> String {
    format!(
        "|{:<21}|{:<21}|{:<21}|{:<11}|\n",
        image,
        pair_label(count),
        count,
        last_seen.map(format_time_of_day).unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_aligned_under_the_header() {
        let line = row_line("Google", 2, Some(0));
        assert_eq!(line.len(), HEADER.len() + 1);
        assert!(line.starts_with("|Google               |Pair                 |2 "));
        assert_eq!(row_line("Mongo", 1, None).len(), RULE.len() + 1);
    }
}
