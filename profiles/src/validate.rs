//! Validation that reports every problem, each with the path of the offending field.

use std::fmt;

/// One problem in a profile, at a dotted path such as `fleet.groups[1].count`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// Where: the file (if known) and the dotted field path.
    pub path: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Collects errors under a path prefix.
#[derive(Debug, Default)]
pub struct Errors {
    prefix: String,
    /// The errors found so far.
    pub list: Vec<ValidationError>,
}

impl Errors {
    /// A collector whose paths start with `prefix` (may be empty).
    pub fn new(prefix: impl Into<String>) -> Self {
        Errors {
            prefix: prefix.into(),
            list: Vec::new(),
        }
    }

    fn join(&self, field: &str) -> String {
        match (self.prefix.is_empty(), field.is_empty()) {
            (true, _) => field.to_owned(),
            (false, true) => self.prefix.clone(),
            (false, false) if field.starts_with('[') => format!("{}{}", self.prefix, field),
            (false, false) => format!("{}.{}", self.prefix, field),
        }
    }

    /// Records a problem with `field`.
    pub fn push(&mut self, field: &str, message: impl Into<String>) {
        let path = self.join(field);
        self.list.push(ValidationError {
            path,
            message: message.into(),
        });
    }

    /// Runs `f` with a collector nested under `field`, keeping its errors.
    pub fn nested(&mut self, field: &str, f: impl FnOnce(&mut Errors)) {
        let mut inner = Errors::new(self.join(field));
        f(&mut inner);
        self.list.append(&mut inner.list);
    }

    /// Checks `lo <= value <= hi` (and that it is a finite number).
    pub fn range(&mut self, field: &str, value: f64, lo: f64, hi: f64) {
        if !(value.is_finite() && value >= lo && value <= hi) {
            self.push(field, format!("{value} is out of range {lo}..={hi}"));
        }
    }

    /// Checks `value > 0` (and finite).
    pub fn positive(&mut self, field: &str, value: f64) {
        if !(value.is_finite() && value > 0.0) {
            self.push(field, format!("{value} must be a positive number"));
        }
    }

    /// Checks `value` is not empty.
    pub fn non_empty(&mut self, field: &str, value: &str) {
        if value.trim().is_empty() {
            self.push(field, "must not be empty");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_paths_join_with_dots_and_brackets() {
        let mut e = Errors::new("fleet");
        e.nested("groups", |g| g.nested("[1]", |i| i.push("count", "bad")));
        e.range("x", f64::NAN, 0.0, 1.0);
        assert_eq!(e.list[0].path, "fleet.groups[1].count");
        assert_eq!(e.list[1].path, "fleet.x");
        assert_eq!(e.list.len(), 2);
    }
}
