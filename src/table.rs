//! One table, two renderings: aligned plain text for a terminal and GitHub markdown for
//! files CI systems and people read.

/// A column's alignment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

#[derive(Clone, Debug, Default)]
pub struct Table {
    header: Vec<(String, Align)>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[(&str, Align)]) -> Table {
        Table { header: header.iter().map(|(h, a)| (h.to_string(), *a)).collect(), rows: Vec::new() }
    }

    /// Adds a row; missing cells are blank, extra ones dropped.
    pub fn row(&mut self, cells: Vec<String>) {
        let mut cells = cells;
        cells.resize(self.header.len(), String::new());
        self.rows.push(cells);
    }

    /// Columns padded to their widest cell (in characters), two spaces apart.
    pub fn text(&self) -> String {
        let widths: Vec<usize> = (0..self.header.len())
            .map(|i| self.rows.iter().map(|r| r[i].chars().count()).chain([self.header[i].0.chars().count()]).max().unwrap_or(0))
            .collect();
        let line = |cells: Vec<&str>| {
            let padded: Vec<String> = cells
                .iter()
                .zip(&self.header)
                .zip(&widths)
                .map(|((c, (_, align)), w)| match align {
                    Align::Left => format!("{c:<w$}"),
                    Align::Right => format!("{c:>w$}"),
                })
                .collect();
            padded.join("  ").trim_end().to_string() + "\n"
        };
        let mut out = line(self.header.iter().map(|(h, _)| h.as_str()).collect());
        for r in &self.rows {
            out.push_str(&line(r.iter().map(String::as_str).collect()));
        }
        out
    }

    /// A GitHub markdown table (`|` in cells escaped).
    pub fn markdown(&self) -> String {
        let cell = |c: &str| c.replace('|', "\\|").replace('\n', " ");
        let mut out = format!("| {} |\n", self.header.iter().map(|(h, _)| cell(h)).collect::<Vec<_>>().join(" | "));
        out.push_str(&format!(
            "|{}|\n",
            self.header.iter().map(|(_, a)| if *a == Align::Right { "---:" } else { "---" }).collect::<Vec<_>>().join("|")
        ));
        for r in &self.rows {
            out.push_str(&format!("| {} |\n", r.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | ")));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_aligns_and_markdown_escapes() {
        let mut t = Table::new(&[("name", Align::Left), ("n", Align::Right)]);
        t.row(vec!["a|b".into(), "7".into()]);
        t.row(vec!["long name".into(), "12".into()]);
        assert_eq!(t.text(), "name        n\na|b         7\nlong name  12\n");
        assert_eq!(t.markdown(), "| name | n |\n|---|---:|\n| a\\|b | 7 |\n| long name | 12 |\n");
    }
}
