//! Host patterns, as `ansible -i INV PATTERN` and a play's `hosts:` read them, and the
//! host-name syntax of inventory files (`web[01:10].example.com`, `host:2222`).
//!
//! A pattern is a list of terms separated by `,` (or `:` when there is no comma):
//! `all`/`*`, a host, a group, a glob (`web*`), a regex (`~web\d+`), any of them with a
//! subscript (`web[0]`, `web[-1]`, `web[1:3]`, `web[2:]`), `@file` (one pattern per
//! line, e.g. a retry file). `&term` intersects and `!term` excludes; as in Ansible,
//! plain terms are applied first, then `&`, then `!` (only `&`/`!` terms start from
//! `all`). Results keep inventory order: group hosts as the group lists them.

use super::{Inventory, LOCALHOST_NAMES};
use crate::error::{Error, Result};
use regex::Regex;
use std::collections::HashSet;
use std::path::Path;

impl Inventory {
    /// The hosts a pattern selects, in order, each once. A term matching nothing adds
    /// nothing (the caller warns when the whole result is empty).
    pub fn select(&self, pattern: &str) -> Result<Vec<String>> {
        let mut terms = Vec::new();
        for term in split_host_pattern(pattern, self) {
            match term.strip_prefix('@') {
                Some(file) => terms.extend(read_limit_file(Path::new(file))?),
                None => terms.push(term),
            }
        }
        let mut hosts: Vec<String> = Vec::new();
        for term in order_patterns(terms) {
            if self.hosts.contains_key(&term) && !self.is_implicit(&term) {
                if !hosts.contains(&term) {
                    hosts.push(term);
                }
                continue;
            }
            let matched = self.match_one(&term)?;
            if term.starts_with('!') {
                let that: HashSet<&String> = matched.iter().collect();
                hosts.retain(|h| !that.contains(h));
            } else if term.starts_with('&') {
                let that: HashSet<&String> = matched.iter().collect();
                hosts.retain(|h| that.contains(h));
            } else {
                let mut seen: HashSet<String> = hosts.iter().cloned().collect();
                for h in matched {
                    if seen.insert(h.clone()) {
                        hosts.push(h);
                    }
                }
            }
        }
        Ok(hosts)
    }

    /// [`Inventory::select`], then keep only hosts the `limit` pattern selects.
    pub fn select_limited(&self, pattern: &str, limit: Option<&str>) -> Result<Vec<String>> {
        let mut hosts = self.select(pattern)?;
        if let Some(limit) = limit {
            let allowed: HashSet<String> = self.select(limit)?.into_iter().collect();
            hosts.retain(|h| allowed.contains(h));
        }
        Ok(hosts)
    }

    /// One term (with its `&`/`!` prefix stripped), subscript applied.
    fn match_one(&self, term: &str) -> Result<Vec<String>> {
        let term = term.strip_prefix(['&', '!']).unwrap_or(term);
        if term.is_empty() {
            return Ok(vec![]);
        }
        let (expr, subscript) = split_subscript(term);
        let hosts = self.enumerate_matches(expr)?;
        apply_subscript(hosts, subscript).ok_or_else(|| {
            Error::usage(format!("no hosts matched the subscripted pattern `{term}`"))
        })
    }

    /// Groups matching the expression give their hosts; hosts are matched too when no
    /// group matched or the expression is a glob or regex.
    fn enumerate_matches(&self, expr: &str) -> Result<Vec<String>> {
        let matcher = Matcher::new(expr)?;
        let mut results: Vec<String> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut any_group = false;
        for g in self.groups.keys() {
            if matcher.is_match(g) {
                any_group = true;
                for h in self.group_hosts(g) {
                    if seen.insert(h.clone()) {
                        results.push(h);
                    }
                }
            }
        }
        let special = expr.starts_with('~') || expr.contains(['.', '?', '*', '[']);
        if !any_group || special {
            for h in self.hosts.keys() {
                if !self.is_implicit(h) && matcher.is_match(h) && seen.insert(h.clone()) {
                    results.push(h.clone());
                }
            }
        }
        if results.is_empty() && LOCALHOST_NAMES.contains(&expr) {
            // An explicit 127.0.0.1/::1/localhost stands for the others; else the
            // implicit localhost.
            if let Some(h) = LOCALHOST_NAMES
                .iter()
                .find(|n| self.hosts.contains_key(**n) && !self.is_implicit(n))
            {
                results.push(h.to_string());
            } else if self.implicit_localhost && expr == "localhost" {
                results.push("localhost".into());
            }
        }
        Ok(results)
    }
}

/// Splits a pattern into terms: on commas, else on colons outside `[...]` (a lone IPv6
/// address or a host of the inventory stays whole). Comma-separated terms are split on
/// colons too (`web:&prod,db`).
pub fn split_host_pattern(pattern: &str, inv: &Inventory) -> Vec<String> {
    let colon_re = Regex::new(r"(?:[^\s:\[\]]|\[[^\]]*\])+").expect("valid regex");
    let mut out = Vec::new();
    for piece in pattern.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if !piece.contains(':') || inv.hosts.contains_key(piece) || looks_like_ipv6(piece) {
            out.push(piece.to_string());
            continue;
        }
        for m in colon_re.find_iter(piece) {
            let t = m.as_str().trim();
            if !t.is_empty() {
                out.push(t.to_string());
            }
        }
    }
    out
}

fn looks_like_ipv6(s: &str) -> bool {
    let s = s.trim_start_matches(['&', '!']);
    s.matches(':').count() >= 2
        && s.chars()
            .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
}

/// Plain terms first, then `&` terms, then `!` terms; `all` when there is no plain term.
fn order_patterns(terms: Vec<String>) -> Vec<String> {
    let (mut regular, mut inter, mut excl) = (vec![], vec![], vec![]);
    for t in terms.into_iter().filter(|t| !t.is_empty()) {
        if t.starts_with('!') {
            excl.push(t);
        } else if t.starts_with('&') {
            inter.push(t);
        } else {
            regular.push(t);
        }
    }
    if regular.is_empty() {
        regular.push("all".to_string());
    }
    regular.into_iter().chain(inter).chain(excl).collect()
}

/// `@file`: one pattern per line (blank lines ignored).
fn read_limit_file(path: &Path) -> Result<Vec<String>> {
    if path.is_dir() {
        return Err(Error::usage(format!(
            "limit file {} is a directory",
            path.display()
        )));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("cannot read limit file {}", path.display()), e))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect())
}

/// A subscript: one index (negative counts from the end) or an inclusive range
/// (`end` None: to the last host).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Subscript {
    Index(i64),
    Range(usize, Option<usize>),
}

fn split_subscript(term: &str) -> (&str, Option<Subscript>) {
    if term.starts_with('~') {
        return (term, None);
    }
    let re = Regex::new(r"^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$").expect("valid regex");
    let Some(c) = re.captures(term) else {
        return (term, None);
    };
    let expr = c.get(1).map_or(term, |m| m.as_str());
    if let Some(idx) = c.get(2) {
        return match idx.as_str().parse() {
            Ok(i) => (expr, Some(Subscript::Index(i))),
            Err(_) => (term, None),
        };
    }
    let Ok(start) = c[3].parse::<usize>() else {
        return (term, None);
    };
    let end = match &c[5] {
        "" => None,
        e => match e.parse::<usize>() {
            // Ansible treats an end of 0 as "just the start" (a falsy end).
            Ok(0) => return (expr, Some(Subscript::Index(start as i64))),
            Ok(e) => Some(e),
            Err(_) => return (term, None),
        },
    };
    (expr, Some(Subscript::Range(start, end)))
}

/// None when an index is out of range (Ansible's "No hosts matched the subscripted pattern").
fn apply_subscript(hosts: Vec<String>, sub: Option<Subscript>) -> Option<Vec<String>> {
    match sub {
        None => Some(hosts),
        Some(Subscript::Index(i)) => {
            let len = hosts.len() as i64;
            let i = if i < 0 { len + i } else { i };
            if i < 0 || i >= len {
                return None;
            }
            Some(vec![hosts[i as usize].clone()])
        }
        Some(Subscript::Range(start, end)) => {
            let end = end.map_or(hosts.len(), |e| (e + 1).min(hosts.len()));
            Some(if start >= end {
                vec![]
            } else {
                hosts[start..end].to_vec()
            })
        }
    }
}

/// Matches group and host names against a term: exact, glob (fnmatch) or `~regex`
/// (anchored at the start, as Python's `re.match`).
enum Matcher {
    Exact(String),
    Re(Regex),
}

impl Matcher {
    fn new(expr: &str) -> Result<Matcher> {
        if let Some(re) = expr.strip_prefix('~') {
            return Regex::new(&format!("^(?:{re})"))
                .map(Matcher::Re)
                .map_err(|e| Error::usage(format!("invalid host pattern regex `{expr}`: {e}")));
        }
        if !expr.contains(['*', '?', '[']) {
            return Ok(Matcher::Exact(expr.to_string()));
        }
        Regex::new(&fnmatch_to_regex(expr))
            .map(Matcher::Re)
            .map_err(|e| Error::usage(format!("invalid host pattern `{expr}`: {e}")))
    }

    fn is_match(&self, name: &str) -> bool {
        match self {
            Matcher::Exact(s) => s == name,
            Matcher::Re(re) => re.is_match(name),
        }
    }
}

/// Python's `fnmatch.translate`: `*`, `?`, `[seq]`, `[!seq]`; whole-name match.
pub fn fnmatch_to_regex(pat: &str) -> String {
    let chars: Vec<char> = pat.chars().collect();
    let mut out = String::from("^(?s:");
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' => {
                while i < chars.len() && chars[i] == '*' {
                    i += 1;
                }
                out.push_str(".*");
            }
            '?' => out.push('.'),
            '[' => {
                let mut j = i;
                if j < chars.len() && chars[j] == '!' {
                    j += 1;
                }
                if j < chars.len() && chars[j] == ']' {
                    j += 1;
                }
                while j < chars.len() && chars[j] != ']' {
                    j += 1;
                }
                if j >= chars.len() {
                    out.push_str("\\[");
                } else {
                    let mut body: String = chars[i..j].iter().collect();
                    i = j + 1;
                    let negate = body.starts_with('!');
                    if negate {
                        body.remove(0);
                    }
                    let mut class = String::from(if negate { "[^" } else { "[" });
                    for ch in body.chars() {
                        match ch {
                            '\\' | '[' | ']' | '^' | '&' | '~' => {
                                class.push('\\');
                                class.push(ch);
                            }
                            _ => class.push(ch),
                        }
                    }
                    class.push(']');
                    out.push_str(&class);
                }
            }
            _ => out.push_str(&regex::escape(&c.to_string())),
        }
    }
    out.push_str(")$");
    out
}

/// Splits `host:port`, `[ipv6]:port`, `1.2.3.4:22`; a bare IPv6 address or a host
/// (possibly with `[a:b]` ranges) has no port.
pub fn parse_address(s: &str) -> (String, Option<u16>) {
    let s = s.trim();
    // [v6]:port
    if let Some(rest) = s.strip_prefix('[') {
        if let Some((inner, port)) = rest.rsplit_once("]:") {
            if inner.contains(':') && !inner.contains('[') {
                if let Ok(p) = port.parse() {
                    return (inner.to_string(), Some(p));
                }
            }
        }
    }
    if looks_like_ipv6(s) {
        return (s.to_string(), None);
    }
    // host:port, where host's colons are only inside [..] ranges
    if let Some(idx) = last_colon_outside_brackets(s) {
        let (host, port) = (&s[..idx], &s[idx + 1..]);
        if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(p) = port.parse() {
                return (host.to_string(), Some(p));
            }
        }
    }
    (s.to_string(), None)
}

fn last_colon_outside_brackets(s: &str) -> Option<usize> {
    let mut depth = 0i32;
    let mut found = None;
    for (i, c) in s.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ':' if depth == 0 => found = Some(i),
            _ => {}
        }
    }
    found
}

/// The most host names one inventory line may expand to: a range written with a digit
/// too many (`web[1:10000000000]`) is refused instead of filling the memory.
pub const MAX_RANGE_HOSTS: u64 = 100_000;

/// Expands `[01:10]`, `[a:f]`, `[1:10:2]` ranges in a host name (several ranges
/// allowed, at most [`MAX_RANGE_HOSTS`] names in all). A name without `[` is returned
/// as is.
pub fn expand_hostname_range(line: &str) -> std::result::Result<Vec<String>, RangeError> {
    let mut out = Vec::new();
    expand_range_into(line, line, &mut out)?;
    Ok(out)
}

/// A host range that cannot be expanded: what is wrong, in which (part of the) line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error("host range expands to more than {MAX_RANGE_HOSTS} hosts, in `{line}`")]
    TooMany { line: String },
    #[error("{what}{} `{line}`", what.joiner())]
    Bad { what: RangeProblem, line: String },
}

/// What is wrong with a range (`[begin:end:step]`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeProblem {
    #[error("unterminated host range")]
    Unterminated,
    #[error("host range must be begin:end or begin:end:step")]
    Bounds,
    #[error("host range must specify end value")]
    NoEnd,
    #[error("invalid host range step `{0}`")]
    Step(String),
    #[error("host range step must be positive")]
    ZeroStep,
    #[error("host range must specify equal-length begin and end formats")]
    Widths,
    #[error("host range must have begin <= end")]
    Order,
    #[error("invalid host range `[{0}]`")]
    Invalid(String),
}

impl RangeProblem {
    /// The words before the line in the message (as ansible-core words them).
    fn joiner(&self) -> &'static str {
        match self {
            RangeProblem::Unterminated | RangeProblem::Step(_) | RangeProblem::Invalid(_) => " in",
            _ => ", in",
        }
    }
}

/// Appends the expansion of `line` (part of the inventory line `whole`) to `out`.
fn expand_range_into(
    line: &str,
    whole: &str,
    out: &mut Vec<String>,
) -> std::result::Result<(), RangeError> {
    let too_many = || RangeError::TooMany {
        line: whole.to_string(),
    };
    let bad = |what: RangeProblem| RangeError::Bad {
        what,
        line: line.to_string(),
    };
    let Some(open) = line.find('[') else {
        if out.len() as u64 >= MAX_RANGE_HOSTS {
            return Err(too_many());
        }
        out.push(line.to_string());
        return Ok(());
    };
    let Some(close_rel) = line[open..].find(']') else {
        return Err(bad(RangeProblem::Unterminated));
    };
    let close = open + close_rel;
    let (head, nrange, tail) = (&line[..open], &line[open + 1..close], &line[close + 1..]);
    let bounds: Vec<&str> = nrange.split(':').collect();
    if bounds.len() != 2 && bounds.len() != 3 {
        return Err(bad(RangeProblem::Bounds));
    }
    let beg = if bounds[0].is_empty() { "0" } else { bounds[0] };
    let end = bounds[1];
    if end.is_empty() {
        return Err(bad(RangeProblem::NoEnd));
    }
    let step: usize = match bounds.get(2) {
        None => 1,
        Some(s) => s
            .parse()
            .map_err(|_| bad(RangeProblem::Step(s.to_string())))?,
    };
    if step == 0 {
        return Err(bad(RangeProblem::ZeroStep));
    }
    let width = if beg.len() > 1 && beg.starts_with('0') {
        if beg.len() != end.len() {
            return Err(bad(RangeProblem::Widths));
        }
        beg.len()
    } else {
        0
    };
    let is_letter = |s: &str| s.len() == 1 && s.chars().all(|c| c.is_ascii_alphabetic());
    let seq: Vec<String> = if is_letter(beg) && is_letter(end) {
        const LETTERS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
        let (b, e) = (
            LETTERS.find(beg).unwrap_or(0),
            LETTERS.find(end).unwrap_or(0),
        );
        if b > e {
            return Err(bad(RangeProblem::Order));
        }
        LETTERS[b..=e]
            .chars()
            .step_by(step)
            .map(|c| c.to_string())
            .collect()
    } else {
        let b: u64 = beg
            .parse()
            .map_err(|_| bad(RangeProblem::Invalid(nrange.to_string())))?;
        let e: u64 = end
            .parse()
            .map_err(|_| bad(RangeProblem::Invalid(nrange.to_string())))?;
        if e >= b && (e - b) / step as u64 >= MAX_RANGE_HOSTS {
            return Err(too_many());
        }
        (b..=e)
            .step_by(step)
            .map(|n| format!("{n:0width$}"))
            .collect()
    };
    for part in seq {
        let name = format!("{head}{part}{tail}");
        expand_range_into(&name, whole, out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv() -> Inventory {
        let mut inv = Inventory::new();
        super::super::ini::parse(
            "lone\n[web]\nweb1\nweb2\nweb3\n[db]\ndb1\ndb2\n[prod]\nweb1\ndb1\n[staging]\nweb3\ndb2\n\
             [ext]\nhost.example.com\n10.0.0.1\n",
            Path::new("hosts"),
            &mut inv,
        )
        .unwrap();
        inv.reconcile().unwrap();
        inv.add_implicit_localhost();
        inv
    }

    fn sel(p: &str) -> Vec<String> {
        inv().select(p).unwrap()
    }

    #[test]
    fn all_and_star() {
        let all = [
            "lone",
            "web1",
            "web2",
            "web3",
            "db1",
            "db2",
            "host.example.com",
            "10.0.0.1",
        ];
        assert_eq!(sel("all"), all);
        assert_eq!(sel("*"), all);
    }

    #[test]
    fn hosts_groups_union() {
        assert_eq!(sel("web2"), ["web2"]);
        assert_eq!(sel("db"), ["db1", "db2"]);
        assert_eq!(sel("db:web"), ["db1", "db2", "web1", "web2", "web3"]);
        assert_eq!(sel("db,web1"), ["db1", "db2", "web1"]);
        assert_eq!(sel("web1:web1"), ["web1"]);
    }

    #[test]
    fn intersection_and_exclusion() {
        assert_eq!(sel("web:&prod"), ["web1"]);
        assert_eq!(sel("web:!prod"), ["web2", "web3"]);
        assert_eq!(
            sel("!prod:web"),
            ["web2", "web3"],
            "exclusions apply after unions"
        );
        assert_eq!(sel("&prod"), ["web1", "db1"], "only & starts from all");
        assert_eq!(
            sel("all:!web:!db"),
            ["lone", "host.example.com", "10.0.0.1"]
        );
        assert_eq!(sel("web,db,&staging"), ["web3", "db2"]);
    }

    #[test]
    fn globs_and_regex() {
        assert_eq!(sel("web*"), ["web1", "web2", "web3"]);
        assert_eq!(sel("db?"), ["db1", "db2"]);
        assert_eq!(
            sel("web[!1]"),
            ["web2", "web3"],
            "a glob class, not a subscript"
        );
        assert_eq!(sel("~web[12]"), ["web1", "web2"]);
        assert_eq!(sel("~(web|db)1"), ["web1", "db1"]);
        assert_eq!(sel("*.example.com"), ["host.example.com"]);
        assert_eq!(sel("10.0.0.*"), ["10.0.0.1"]);
    }

    #[test]
    fn subscripts() {
        assert_eq!(sel("web[0]"), ["web1"]);
        assert_eq!(sel("web[-1]"), ["web3"]);
        assert_eq!(sel("web[0:1]"), ["web1", "web2"]);
        assert_eq!(sel("web[1:]"), ["web2", "web3"]);
        assert_eq!(sel("web[0]:db[1]"), ["web1", "db2"]);
        assert!(inv().select("web[7]").is_err());
        assert_eq!(sel("web[5:9]"), Vec::<String>::new());
    }

    #[test]
    fn unknown_is_empty_and_localhost_is_implicit() {
        assert!(sel("nope").is_empty());
        assert!(sel("nope*").is_empty());
        assert_eq!(sel("localhost"), ["localhost"]);
        assert!(!sel("all").contains(&"localhost".to_string()));
        assert!(!sel("local*").contains(&"localhost".to_string()));
    }

    #[test]
    fn limit_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("site.retry");
        std::fs::write(&f, "web2\n\ndb1\n").unwrap();
        assert_eq!(sel(&format!("@{}", f.display())), ["web2", "db1"]);
        assert_eq!(
            inv()
                .select_limited("all", Some(&format!("@{}", f.display())))
                .unwrap(),
            ["web2", "db1"]
        );
        assert!(inv().select("@/nonexistent/file").is_err());
    }

    #[test]
    fn split_terms() {
        let inv = inv();
        assert_eq!(
            split_host_pattern("a:b:&c:!d", &inv),
            ["a", "b", "&c", "!d"]
        );
        assert_eq!(split_host_pattern("web[0:2]:db", &inv), ["web[0:2]", "db"]);
        assert_eq!(split_host_pattern("a, b ,", &inv), ["a", "b"]);
        assert_eq!(split_host_pattern("fe80::1", &inv), ["fe80::1"]);
    }

    #[test]
    fn fnmatch() {
        let re = Regex::new(&fnmatch_to_regex("w[a-c]b*.x?")).unwrap();
        assert!(re.is_match("wbb-1.xy"));
        assert!(!re.is_match("wdb.xy"));
        assert!(!re.is_match("wbb.xyz"));
        let re = Regex::new(&fnmatch_to_regex("a[!0-9]")).unwrap();
        assert!(re.is_match("ab") && !re.is_match("a1"));
        let re = Regex::new(&fnmatch_to_regex("a[b")).unwrap();
        assert!(re.is_match("a[b"));
    }

    #[test]
    fn ranges() {
        assert_eq!(
            expand_hostname_range("web[01:03].x").unwrap(),
            ["web01.x", "web02.x", "web03.x"]
        );
        assert_eq!(
            expand_hostname_range("db[a:c]").unwrap(),
            ["dba", "dbb", "dbc"]
        );
        assert_eq!(
            expand_hostname_range("n[1:5:2]").unwrap(),
            ["n1", "n3", "n5"]
        );
        assert_eq!(
            expand_hostname_range("r[1:2]-[a:b]").unwrap(),
            ["r1-a", "r1-b", "r2-a", "r2-b"]
        );
        assert_eq!(expand_hostname_range("h[:2]").unwrap(), ["h0", "h1", "h2"]);
        assert_eq!(
            expand_hostname_range("h[8:10]").unwrap(),
            ["h8", "h9", "h10"]
        );
        assert!(expand_hostname_range("h[01:100]").is_err());
        assert!(expand_hostname_range("h[1]").is_err());
        assert!(expand_hostname_range("h[1:]").is_err());
    }

    #[test]
    fn ranges_are_bounded() {
        let max = MAX_RANGE_HOSTS as usize;
        assert_eq!(
            expand_hostname_range(&format!("h[1:{max}]")).unwrap().len(),
            max
        );
        let e = expand_hostname_range("h[1:10000000000]").unwrap_err();
        assert!(matches!(e, RangeError::TooMany { .. }));
        assert!(e.to_string().contains("more than 100000 hosts"), "{e}");
        let e = expand_hostname_range("h[2:1:0]").unwrap_err();
        assert_eq!(
            e.to_string(),
            "host range step must be positive, in `h[2:1:0]`"
        );
        let e = expand_hostname_range("h[3:x]").unwrap_err();
        assert_eq!(e.to_string(), "invalid host range `[3:x]` in `h[3:x]`");
        // Each range is small, their product is not.
        assert!(expand_hostname_range("h[0:999]-[0:999]").is_err());
        assert_eq!(expand_hostname_range("h[1:10:3]").unwrap().len(), 4);
    }

    #[test]
    fn addresses() {
        assert_eq!(parse_address("web1:2222"), ("web1".into(), Some(2222)));
        assert_eq!(parse_address("web[1:3]:22"), ("web[1:3]".into(), Some(22)));
        assert_eq!(parse_address("web[1:3]"), ("web[1:3]".into(), None));
        assert_eq!(parse_address("10.0.0.1:22"), ("10.0.0.1".into(), Some(22)));
        assert_eq!(parse_address("[fe80::1]:22"), ("fe80::1".into(), Some(22)));
        assert_eq!(parse_address("fe80::1"), ("fe80::1".into(), None));
    }
}
