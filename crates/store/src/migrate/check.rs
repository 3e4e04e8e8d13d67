//! The `{{CHECK …}}` placeholder of the shared migrations: a closed set of values for one column, written once
//! and rendered for each dialect. `{{CHECK table.column IN ('a', 'b')}}` (or numbers) allows the listed values;
//! `{{CHECK table.column WORDS ('a', 'b')}}` a space-separated set of them (officers' roles, scopes), each word
//! at most once; that a set is not empty is the services' rule. NULL passes, as in any CHECK.
//!
//! PostgreSQL gets a real `CHECK` constraint. SQLite cannot add a constraint to an existing table, so it gets a
//! `BEFORE INSERT` and a `BEFORE UPDATE OF column` trigger that abort with `CHECK constraint failed: NAME`.
//! Rows already stored are checked first, on both, so an upgrade over a bad value stops with its name and count.
//! Declaring a column again in a later migration replaces its set (that is how a set widens).

use std::collections::BTreeSet;

use crate::{Dialect, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rule {
    In,
    Words,
}

/// One placeholder, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Check {
    pub table: String,
    pub column: String,
    pub rule: Rule,
    /// The SQL literals as written: `'active'`, `1`.
    literals: Vec<String>,
}

impl Check {
    /// The constraint's name, and the stem of the SQLite triggers' names.
    pub fn name(&self) -> String {
        format!("{}_{}_check", self.table, self.column)
    }

    /// The allowed values without their quotes.
    pub fn values(&self) -> BTreeSet<String> {
        self.literals.iter().map(|l| l.trim_matches('\'').to_owned()).collect()
    }

    /// What a good value of `column` (as `reference` names it) satisfies, in SQL both dialects read.
    fn condition(&self, reference: &str) -> String {
        match self.rule {
            Rule::In => format!("{reference} IN ({})", self.literals.join(", ")),
            Rule::Words => {
                // Each allowed word, with the spaces around it, becomes one space: only spaces are left of a
                // good set (a word given twice, or any other word, stays).
                let mut rest = format!("' ' || {reference} || ' '");
                for word in self.values() {
                    rest = format!("replace({rest}, ' {word} ', ' ')");
                }
                format!("trim({rest}) = ''")
            }
        }
    }

    /// Counts the stored rows the check would refuse.
    pub fn violations_sql(&self) -> String {
        format!("SELECT COUNT(*) FROM {} WHERE NOT ({})", self.table, self.condition(&self.column))
    }

    /// The statements that put the check in place; `again` when an earlier migration declared this column.
    pub fn render(&self, dialect: Dialect, again: bool) -> String {
        let (table, column, name) = (&self.table, &self.column, self.name());
        match dialect {
            Dialect::Postgres => {
                let drop = if again { format!("ALTER TABLE {table} DROP CONSTRAINT {name};\n") } else { String::new() };
                format!("{drop}ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({});\n", self.condition(column))
            }
            Dialect::Sqlite => {
                let when = format!("WHEN NOT ({})", self.condition(&format!("NEW.{column}")));
                let abort = format!("BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: {name}'); END;");
                let drop = if again {
                    format!("DROP TRIGGER {name}_insert;\nDROP TRIGGER {name}_update;\n")
                } else {
                    String::new()
                };
                format!(
                    "{drop}CREATE TRIGGER {name}_insert BEFORE INSERT ON {table} FOR EACH ROW {when} {abort}\n\
                     CREATE TRIGGER {name}_update BEFORE UPDATE OF {column} ON {table} FOR EACH ROW {when} {abort}\n"
                )
            }
        }
    }
}

/// Splits a migration into its SQL without the placeholders and the checks it declares, in order.
pub(crate) fn extract(sql: &str) -> Result<(String, Vec<Check>), StoreError> {
    let mut rest = String::with_capacity(sql.len());
    let mut checks = Vec::new();
    let mut text = sql;
    while let Some(start) = text.find("{{CHECK ") {
        rest.push_str(&text[..start]);
        let end = text[start..].find("}}").ok_or_else(|| malformed(&text[start..]))? + start;
        checks.push(parse(&text[start + "{{CHECK ".len()..end])?);
        text = &text[end + 2..];
    }
    rest.push_str(text);
    Ok((rest, checks))
}

fn malformed(text: &str) -> StoreError {
    let line = text.lines().next().unwrap_or_default();
    StoreError::Migration(format!("malformed CHECK placeholder: {line}"))
}

/// `table.column IN|WORDS (literal, …)`, each name lower-case letters, digits and `_`, each literal a quoted
/// word of those and `:` or a number.
fn parse(body: &str) -> Result<Check, StoreError> {
    let bad = || malformed(body);
    let (target, rest) = body.trim().split_once(' ').ok_or_else(bad)?;
    let (table, column) = target.split_once('.').ok_or_else(bad)?;
    let (rule, list) = rest.trim().split_once(' ').ok_or_else(bad)?;
    let rule = match rule {
        "IN" => Rule::In,
        "WORDS" => Rule::Words,
        _ => return Err(bad()),
    };
    let list = list.trim().strip_prefix('(').and_then(|l| l.strip_suffix(')')).ok_or_else(bad)?;
    let name = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !name(table) || !name(column) {
        return Err(bad());
    }
    let literals: Vec<String> = list.split(',').map(|l| l.trim().to_owned()).collect();
    let literal_ok = |l: &str| match l.strip_prefix('\'').and_then(|w| w.strip_suffix('\'')) {
        Some(word) => {
            !word.is_empty() && word.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_:".contains(&b))
        }
        None => rule == Rule::In && !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()),
    };
    if !literals.iter().all(|l| literal_ok(l)) {
        return Err(bad());
    }
    Ok(Check { table: table.to_owned(), column: column.to_owned(), rule, literals })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_taken_out_and_parsed() {
        let (rest, checks) =
            extract("-- x\n{{CHECK t.c IN ('a', 'b')}}\nCREATE INDEX i ON t (c);\n{{CHECK t.r WORDS ('x:y')}}\n")
                .unwrap();
        assert_eq!(rest, "-- x\n\nCREATE INDEX i ON t (c);\n\n");
        assert_eq!(checks.len(), 2);
        assert_eq!((checks[0].name(), checks[0].rule), ("t_c_check".to_owned(), Rule::In));
        assert_eq!(checks[1].values(), BTreeSet::from(["x:y".to_owned()]));
        for bad in [
            "{{CHECK t.c IN ('a'}}",
            "{{CHECK t IN ('a')}}",
            "{{CHECK t.c IS ('a')}}",
            "{{CHECK t.c IN ('a b')}}",
            "{{CHECK t.c WORDS (1)}}",
            "{{CHECK t.c IN ('a')",
            "{{CHECK T.c IN ('a')}}",
        ] {
            assert!(extract(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn each_dialect_gets_its_form() {
        let (_, checks) = extract("{{CHECK t.c IN (1, 2)}}").unwrap();
        let pg = checks[0].render(Dialect::Postgres, false);
        assert_eq!(pg, "ALTER TABLE t ADD CONSTRAINT t_c_check CHECK (c IN (1, 2));\n");
        assert!(checks[0].render(Dialect::Postgres, true).starts_with("ALTER TABLE t DROP CONSTRAINT t_c_check;"));
        let sqlite = checks[0].render(Dialect::Sqlite, false);
        assert!(sqlite.contains("BEFORE INSERT ON t FOR EACH ROW WHEN NOT (NEW.c IN (1, 2))"), "{sqlite}");
        assert!(sqlite.contains("BEFORE UPDATE OF c ON t"), "{sqlite}");
        assert!(checks[0].render(Dialect::Sqlite, true).starts_with("DROP TRIGGER t_c_check_insert;"));
    }
}
