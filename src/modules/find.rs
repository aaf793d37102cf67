//! The `find` module: lists files under `paths` and filters them as Ansible's `find`
//! does (`patterns` as globs or, with `use_regex`, Python regexes matched at the start of
//! the basename; `excludes`, `file_type`, `recurse`/`depth`, `hidden`, `age`, `size`,
//! `mode`, `contains`), returning `files` (one stat dict each), `matched`, `examined`,
//! `skipped_paths` and `msg`.
//!
//! One exchange lists every entry with `find` and `stat` (records NUL-separated, so any
//! file name survives); the filters run on the controller. Only when `contains` or
//! `get_checksum` is asked for does a second exchange read the candidates (their
//! contents base64-encoded, or their SHA-1). Nothing is written: check mode is the same.

use super::util::{self, py_regex};
use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult, Outcome};
use crate::shell::Script;
use async_trait::async_trait;
use base64::Engine as _;
use serde_json::{json, Map, Value};

const PARAMS: &[&str] = &[
    "paths",
    "path",
    "name",
    "patterns",
    "pattern",
    "excludes",
    "exclude",
    "contains",
    "read_whole_file",
    "file_type",
    "age",
    "age_stamp",
    "size",
    "recurse",
    "hidden",
    "follow",
    "get_checksum",
    "use_regex",
    "depth",
    "mode",
    "exact_mode",
    "encoding",
    "limit",
];

/// `stat --printf` fields, in the order [`Entry::parse`] reads them; the name is last.
const STAT_FORMAT: &str = "%f %u %g %s %i %d %h %.9X %.9Y %.9Z %U %G %n\\0";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileType {
    File,
    Directory,
    Link,
    Any,
}

/// A name filter: globs (Python's `fnmatch`) or regexes matched at the start.
enum NameFilter {
    Glob(Vec<glob::Pattern>, Vec<String>),
    Regex(Vec<regex::bytes::Regex>),
}

impl NameFilter {
    fn new(patterns: &[String], use_regex: bool) -> Result<Self, ModuleError> {
        if use_regex {
            let compiled = patterns
                .iter()
                .map(|p| py_regex(&format!("\\A(?:{p})"), false))
                .collect::<Result<_, _>>()?;
            return Ok(NameFilter::Regex(compiled));
        }
        // An invalid glob (`[` alone) matches itself literally, as fnmatch does.
        let (globs, literals) = patterns.iter().fold((vec![], vec![]), |(mut g, mut l), p| {
            match glob::Pattern::new(p) {
                Ok(pat) => g.push(pat),
                Err(_) => l.push(p.clone()),
            }
            (g, l)
        });
        Ok(NameFilter::Glob(globs, literals))
    }

    fn matches(&self, name: &str) -> bool {
        match self {
            NameFilter::Glob(globs, literals) => {
                let opts = glob::MatchOptions {
                    case_sensitive: true,
                    require_literal_separator: false,
                    require_literal_leading_dot: false,
                };
                globs.iter().any(|g| g.matches_with(name, opts))
                    || literals.iter().any(|l| l == name)
            }
            NameFilter::Regex(res) => res.iter().any(|r| r.is_match(name.as_bytes())),
        }
    }
}

/// The module's arguments, checked.
struct Params {
    paths: Vec<String>,
    patterns: NameFilter,
    excludes: Option<NameFilter>,
    contains: Option<regex::bytes::Regex>,
    read_whole_file: bool,
    file_type: FileType,
    /// Seconds; negative: younger than.
    age: Option<i64>,
    age_stamp: usize,
    /// Bytes; negative: at most.
    size: Option<i64>,
    recurse: bool,
    depth: Option<usize>,
    hidden: bool,
    follow: bool,
    get_checksum: bool,
    mode: Option<u32>,
    exact_mode: bool,
}

/// `"2d"` -> 172800, `"-1w"`, `"30"` (seconds), as Ansible's find parses `age`.
fn parse_age(s: &str) -> Option<i64> {
    parse_scaled(
        s,
        &[
            ('s', 1),
            ('m', 60),
            ('h', 3600),
            ('d', 86400),
            ('w', 604800),
        ],
    )
}

/// `"10k"` -> 10240, `"-1m"`, `"5"` (bytes), as Ansible's find parses `size`.
fn parse_size(s: &str) -> Option<i64> {
    let k = 1024;
    parse_scaled(
        s,
        &[
            ('b', 1),
            ('k', k),
            ('m', k * k),
            ('g', k * k * k),
            ('t', k * k * k * k),
        ],
    )
}

fn parse_scaled(s: &str, units: &[(char, i64)]) -> Option<i64> {
    let s = s.trim().to_ascii_lowercase();
    let (num, factor) = match s.chars().last() {
        Some(c) if c.is_ascii_alphabetic() => {
            let f = units.iter().find(|(u, _)| *u == c)?.1;
            (&s[..s.len() - 1], f)
        }
        _ => (s.as_str(), 1),
    };
    let digits = num.strip_prefix('-').unwrap_or(num);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    num.parse::<i64>().ok()?.checked_mul(factor)
}

impl Params {
    fn from_args(args: &Args) -> Result<Self, ModuleError> {
        let paths = ["paths", "path", "name"]
            .iter()
            .find_map(|k| args.list(k))
            .filter(|p| !p.is_empty())
            .ok_or_else(|| ModuleError::failed("missing required arguments: paths"))?;
        let use_regex = args.bool_or("use_regex", false)?;
        let mut patterns = args
            .list("patterns")
            .or_else(|| args.list("pattern"))
            .unwrap_or_default();
        if patterns.is_empty() {
            patterns.push(if use_regex { ".*" } else { "*" }.to_string());
        }
        let excludes = args.list("excludes").or_else(|| args.list("exclude"));
        let excludes = match excludes.filter(|e| !e.is_empty()) {
            Some(e) => Some(NameFilter::new(&e, use_regex)?),
            None => None,
        };
        let file_type = match args.str("file_type").as_deref().unwrap_or("file") {
            "file" => FileType::File,
            "directory" => FileType::Directory,
            "link" => FileType::Link,
            "any" => FileType::Any,
            other => {
                return Err(ModuleError::failed(format!(
                    "value of file_type must be one of: any, directory, file, link, got: {other}"
                )))
            }
        };
        let age = match args.str("age") {
            None => None,
            Some(a) => Some(
                parse_age(&a)
                    .ok_or_else(|| ModuleError::failed(format!("failed to process age {a:?}")))?,
            ),
        };
        let size = match args.str("size") {
            None => None,
            Some(s) => Some(
                parse_size(&s)
                    .ok_or_else(|| ModuleError::failed(format!("failed to process size {s:?}")))?,
            ),
        };
        let age_stamp = match args.str("age_stamp").as_deref().unwrap_or("mtime") {
            "atime" => 0,
            "mtime" => 1,
            "ctime" => 2,
            other => {
                return Err(ModuleError::failed(format!(
                    "value of age_stamp must be one of: atime, ctime, mtime, got: {other}"
                )))
            }
        };
        let mode = match args.mode("mode")? {
            None => None,
            Some(m) => Some(
                u32::from_str_radix(&m, 8).map_err(|_| {
                    ModuleError::failed(format!(
                        "mode {m:?}: only octal modes are supported by rdeploy's find"
                    ))
                })? & 0o7777,
            ),
        };
        let depth = args.int("depth")?.filter(|d| *d > 0).map(|d| d as usize);
        Ok(Params {
            paths,
            patterns: NameFilter::new(&patterns, use_regex)?,
            excludes,
            contains: match args.str("contains") {
                Some(c) => Some(py_regex(&c, false)?),
                None => None,
            },
            read_whole_file: args.bool_or("read_whole_file", false)?,
            file_type,
            age,
            age_stamp,
            size,
            recurse: args.bool_or("recurse", false)?,
            depth,
            hidden: args.bool_or("hidden", false)?,
            follow: args.bool_or("follow", false)?,
            get_checksum: args.bool_or("get_checksum", false)?,
            mode,
            exact_mode: args.bool_or("exact_mode", true)?,
        })
    }

    /// How deep `find` lists: one level more than `depth`, as Ansible examines the
    /// entries of the deepest directories it walks without matching them.
    fn max_depth(&self) -> Option<usize> {
        if !self.recurse {
            Some(1)
        } else {
            self.depth.map(|d| d + 1)
        }
    }
}

/// One listed entry, as `stat` reported it.
#[derive(Debug, Clone)]
struct Entry {
    /// Index of the searched path it was found under.
    root: usize,
    /// Path relative to that root (`a/b.txt`).
    rel: String,
    raw_mode: u32,
    uid: u64,
    gid: u64,
    size: u64,
    inode: u64,
    dev: u64,
    nlink: u64,
    /// atime, mtime, ctime.
    times: [f64; 3],
    user: String,
    group: String,
}

impl Entry {
    /// Parses one `STAT_FORMAT` record (`find` prints names as `./rel`).
    fn parse(root: usize, rec: &str) -> Option<Entry> {
        let f: Vec<&str> = rec.splitn(13, ' ').collect();
        if f.len() != 13 {
            return None;
        }
        let n = |i: usize| f[i].parse::<u64>().ok();
        let t = |i: usize| f[i].parse::<f64>().ok();
        let name_of = |s: &str| {
            if s == "UNKNOWN" {
                String::new()
            } else {
                s.to_string()
            }
        };
        Some(Entry {
            root,
            rel: f[12].strip_prefix("./").unwrap_or(f[12]).to_string(),
            raw_mode: u32::from_str_radix(f[0], 16).ok()?,
            uid: n(1)?,
            gid: n(2)?,
            size: n(3)?,
            inode: n(4)?,
            dev: n(5)?,
            nlink: n(6)?,
            times: [t(7)?, t(8)?, t(9)?],
            user: name_of(f[10]),
            group: name_of(f[11]),
        })
    }

    fn depth(&self) -> usize {
        self.rel.split('/').filter(|c| !c.is_empty()).count()
    }
    fn name(&self) -> &str {
        self.rel.rsplit('/').next().unwrap_or(&self.rel)
    }
    fn fmt(&self) -> u32 {
        self.raw_mode & 0o170000
    }
    fn is_reg(&self) -> bool {
        self.fmt() == 0o100000
    }
    fn is_dir(&self) -> bool {
        self.fmt() == 0o040000
    }
    fn is_link(&self) -> bool {
        self.fmt() == 0o120000
    }

    /// The dict Ansible's find returns for a file (its `statinfo` plus `path`).
    fn info(&self, path: &str) -> Map<String, Value> {
        let m = self.raw_mode;
        let fmt = self.fmt();
        let bit = |b: u32| Value::Bool(m & b != 0);
        let mut r = Map::new();
        r.insert("path".into(), json!(path));
        r.insert("mode".into(), json!(format!("{:04o}", m & 0o7777)));
        r.insert("isdir".into(), json!(fmt == 0o040000));
        r.insert("ischr".into(), json!(fmt == 0o020000));
        r.insert("isblk".into(), json!(fmt == 0o060000));
        r.insert("isreg".into(), json!(fmt == 0o100000));
        r.insert("isfifo".into(), json!(fmt == 0o010000));
        r.insert("islnk".into(), json!(fmt == 0o120000));
        r.insert("issock".into(), json!(fmt == 0o140000));
        r.insert("uid".into(), json!(self.uid));
        r.insert("gid".into(), json!(self.gid));
        r.insert("size".into(), json!(self.size));
        r.insert("inode".into(), json!(self.inode));
        r.insert("dev".into(), json!(self.dev));
        r.insert("nlink".into(), json!(self.nlink));
        for (i, k) in ["atime", "mtime", "ctime"].iter().enumerate() {
            r.insert((*k).into(), json!(self.times[i]));
        }
        r.insert("gr_name".into(), json!(self.group));
        r.insert("pw_name".into(), json!(self.user));
        for (k, b) in [
            ("wusr", 0o200),
            ("rusr", 0o400),
            ("xusr", 0o100),
            ("wgrp", 0o020),
            ("rgrp", 0o040),
            ("xgrp", 0o010),
            ("woth", 0o002),
            ("roth", 0o004),
            ("xoth", 0o001),
            ("isuid", 0o4000),
            ("isgid", 0o2000),
        ] {
            r.insert(k.into(), bit(b));
        }
        r
    }
}

/// What the listing exchange found.
#[derive(Debug, Default)]
struct Listing {
    /// The host's clock (seconds), for `age`.
    now: f64,
    entries: Vec<Entry>,
    /// Indexes of paths that are not directories.
    not_dirs: Vec<usize>,
    /// Indexes of paths whose walk reported errors.
    walk_errors: Vec<usize>,
}

/// The listing script: for each path, every entry below it (to `max_depth`) with
/// `stat`, NUL-terminated records tagged with the path's index.
fn list_script(paths: &[String], p: &Params) -> String {
    let mut s = Script::new();
    s.raw("printf 'RD_NOW %s\\0' \"$(date +%s)\"\n");
    let follow = if p.follow { "-L " } else { "" };
    let depth = p
        .max_depth()
        .map(|d| format!(" -maxdepth {d}"))
        .unwrap_or_default();
    let find = format!("find {follow}. -mindepth 1{depth}");
    for (i, path) in paths.iter().enumerate() {
        s.raw("rd_p=").arg(path).raw("\n");
        s.raw(&format!(
            "if [ -d \"$rd_p\" ]; then printf 'RD_ROOT {i}\\0'; \
             ( cd -- \"$rd_p\" && {find} -exec stat --printf '{STAT_FORMAT}' {{}} + ) \
             || printf 'RD_WALKERR {i}\\0'; else printf 'RD_NOTDIR {i}\\0'; fi\n"
        ));
    }
    s.raw("exit 0\n");
    s.into_string()
}

fn parse_listing(out: &[u8]) -> Listing {
    let mut l = Listing::default();
    let mut root = 0;
    for rec in out.split(|b| *b == 0).filter(|r| !r.is_empty()) {
        let rec = String::from_utf8_lossy(rec);
        let idx = |tag: &str| rec.strip_prefix(tag).and_then(|n| n.parse::<usize>().ok());
        if let Some(n) = rec.strip_prefix("RD_NOW ") {
            l.now = n.trim().parse().unwrap_or(0.0);
        } else if let Some(i) = idx("RD_ROOT ") {
            root = i;
        } else if let Some(i) = idx("RD_NOTDIR ") {
            l.not_dirs.push(i);
        } else if let Some(i) = idx("RD_WALKERR ") {
            l.walk_errors.push(i);
        } else if let Some(e) = Entry::parse(root, &rec) {
            l.entries.push(e);
        }
    }
    l
}

/// `a/./b//c/` -> `a/b/c`, `a/x/../b` -> `a/b` (Python's `os.path.normpath`).
fn normpath(p: &str) -> String {
    let abs = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." if parts.last().is_some_and(|l| *l != "..") => {
                parts.pop();
            }
            ".." if abs => {}
            c => parts.push(c),
        }
    }
    let joined = parts.join("/");
    match (abs, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// The filters that need no file content, in Ansible's order per file type.
fn selected(e: &Entry, p: &Params, now: f64) -> bool {
    let name = e.name();
    let name_ok = p.patterns.matches(name) && !p.excludes.as_ref().is_some_and(|x| x.matches(name));
    let age_ok = match p.age {
        None => true,
        Some(a) if a >= 0 => now - e.times[p.age_stamp] >= a as f64,
        Some(a) => now - e.times[p.age_stamp] <= a.unsigned_abs() as f64,
    };
    let size_ok = match p.size {
        None => true,
        Some(s) if s >= 0 => e.size >= s as u64,
        Some(s) => e.size <= s.unsigned_abs(),
    };
    let mode_ok = match p.mode {
        None => true,
        Some(m) if p.exact_mode => e.raw_mode & 0o7777 == m,
        Some(m) => e.raw_mode & m != 0,
    };
    let common = name_ok && age_ok && mode_ok;
    match p.file_type {
        FileType::Any => common && (!e.is_reg() || size_ok),
        FileType::Directory => e.is_dir() && common,
        FileType::File => e.is_reg() && common && size_ok,
        FileType::Link => e.is_link() && common,
    }
}

/// Whether `content` has a line matching `re` at its start (or, reading the whole file,
/// anywhere), as Ansible's `contentfilter`: a file that is not valid text only counts
/// the lines before the first undecodable byte.
fn content_matches(content: &[u8], re: &regex::bytes::Regex, whole: bool) -> bool {
    let valid = match std::str::from_utf8(content) {
        Ok(_) => content,
        Err(_) if whole => return false,
        Err(e) => &content[..e.valid_up_to()],
    };
    if whole {
        return re.is_match(valid);
    }
    util::split_lines(valid).iter().any(|line| {
        // Python's `$` also matches before the line's newline.
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        re.find(line).is_some_and(|m| m.start() == 0)
    })
}

/// The second exchange: for each file on stdin (NUL-separated), a record with its
/// SHA-1 and/or its content in base64.
fn read_script(checksum: bool, content: bool) -> String {
    let mut inner = String::from("for f do printf 'RD_F\\0'; ");
    if checksum {
        inner.push_str("sha1sum < \"$f\" 2>/dev/null | cut -c1-40 | tr -d '\\n'; ");
    }
    inner.push_str("printf '\\0'; ");
    if content {
        inner.push_str("base64 -w0 < \"$f\" 2>/dev/null; ");
    }
    inner.push_str("printf '\\0'; done");
    let mut s = Script::new();
    s.raw("xargs -0 sh -c ").arg(&inner).raw(" rd\n");
    s.into_string()
}

/// (sha1, content) per file of the second exchange.
fn parse_reads(out: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out_vec = Vec::new();
    let mut fields = out.split(|b| *b == 0);
    while let Some(tag) = fields.next() {
        if tag != b"RD_F" {
            continue;
        }
        let sum = String::from_utf8_lossy(fields.next().unwrap_or_default()).into_owned();
        let content = base64::engine::general_purpose::STANDARD
            .decode(fields.next().unwrap_or_default())
            .unwrap_or_default();
        out_vec.push((sum, content));
    }
    out_vec
}

pub struct Find;

#[async_trait]
impl Module for Find {
    fn name(&self) -> &'static str {
        "find"
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(PARAMS)
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        let p = Params::from_args(args)?;
        let mut paths = Vec::new();
        for path in &p.paths {
            paths.push(util::expand_user(ctx, path).await?);
        }
        let out = ctx.run(&list_script(&paths, &p)).await?;
        if out.rc != 0 {
            return Err(ModuleError::failed(format!(
                "cannot list {}: {}",
                paths.join(", "),
                out.stderr_str().trim()
            )));
        }
        let listing = parse_listing(&out.stdout);
        let mut examined = 0;
        let mut candidates: Vec<(String, &Entry)> = Vec::new();
        for e in &listing.entries {
            examined += 1;
            let too_deep = p.depth.is_some_and(|d| e.depth() > d);
            if too_deep || (!p.hidden && e.name().starts_with('.')) {
                continue;
            }
            if selected(e, &p, listing.now) {
                candidates.push((normpath(&format!("{}/{}", paths[e.root], e.rel)), e));
            }
        }
        candidates.sort_by(|a, b| a.0.cmp(&b.0));
        // Content and checksums of regular files, in one more exchange when asked for.
        let want_sum = p.get_checksum;
        let want_content = p.contains.is_some() && p.file_type == FileType::File;
        let reads = {
            let files: Vec<&str> = candidates
                .iter()
                .filter(|(_, e)| e.is_reg())
                .map(|(path, _)| path.as_str())
                .collect();
            if (want_sum || want_content) && !files.is_empty() {
                let mut stdin = Vec::new();
                for f in &files {
                    stdin.extend_from_slice(f.as_bytes());
                    stdin.push(0);
                }
                let out = ctx
                    .run_stdin(&read_script(want_sum, want_content), Some(stdin))
                    .await?;
                files
                    .into_iter()
                    .map(str::to_string)
                    .zip(parse_reads(&out.stdout))
                    .collect::<std::collections::HashMap<_, _>>()
            } else {
                Default::default()
            }
        };
        let mut files = Vec::new();
        for (path, e) in &candidates {
            let read = reads.get(path);
            if let (true, Some(re)) = (want_content, &p.contains) {
                let content = read.map(|r| r.1.as_slice()).unwrap_or_default();
                if !content_matches(content, re, p.read_whole_file) {
                    continue;
                }
            }
            let mut info = e.info(path);
            if let (true, true, Some((sum, _))) = (want_sum, e.is_reg(), read) {
                info.insert("checksum".into(), json!(sum));
            }
            files.push(Value::Object(info));
        }
        let mut skipped = Map::new();
        let mut warnings = Vec::new();
        for &i in &listing.not_dirs {
            let reason = format!("'{}' is not a directory", paths[i]);
            warnings.push(format!(
                "Skipped '{}' path due to this access issue: {reason}",
                paths[i]
            ));
            skipped.insert(paths[i].clone(), json!(reason));
        }
        for &i in &listing.walk_errors {
            let reason = out.stderr_str().trim().to_string();
            warnings.push(format!(
                "Skipped '{}' path due to this access issue: {reason}",
                paths[i]
            ));
            skipped.insert(paths[i].clone(), json!(reason));
        }
        let msg = if warnings.is_empty() {
            "All paths examined"
        } else {
            "Not all paths examined, check warnings for details"
        };
        let mut o = Outcome::changed(false)
            .with_msg(msg)
            .with("matched", files.len())
            .with("files", Value::Array(files))
            .with("examined", examined)
            .with("skipped_paths", Value::Object(skipped));
        if !warnings.is_empty() {
            o = o.with("warnings", json!(warnings));
        }
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::testing::run_local_with;

    #[test]
    fn ages_and_sizes_as_ansible() {
        assert_eq!(parse_age("2d"), Some(172800));
        assert_eq!(parse_age("-1w"), Some(-604800));
        assert_eq!(parse_age("30"), Some(30));
        assert_eq!(parse_age("3x"), None);
        assert_eq!(parse_size("10k"), Some(10240));
        assert_eq!(parse_size("-1M"), Some(-1048576));
        assert_eq!(parse_size("k"), None);
    }

    #[test]
    fn normpath_as_python() {
        assert_eq!(normpath("/tmp/x//a"), "/tmp/x/a");
        assert_eq!(normpath("/tmp/x/./a/../b"), "/tmp/x/b");
        assert_eq!(normpath("rel/"), "rel");
    }

    #[test]
    fn name_filters() {
        let g = NameFilter::new(&["*.log".into(), "[ab]?".into(), "[".into()], false).unwrap();
        assert!(g.matches("x.log") && g.matches(".log") && g.matches("b1") && g.matches("["));
        assert!(!g.matches("x.txt") && !g.matches("c1"));
        // Regexes match at the start, not the whole name (re.match).
        let r = NameFilter::new(&["app".into(), r"\d+$".into()], true).unwrap();
        assert!(r.matches("app.log") && r.matches("42"));
        assert!(!r.matches("myapp") && !r.matches("x42"));
    }

    #[test]
    fn contents_match_lines_at_their_start() {
        let re = py_regex("needle$", false).unwrap();
        assert!(content_matches(b"hay\nneedle\n", &re, false));
        assert!(!content_matches(b"hay needle\n", &re, false));
        assert!(content_matches(b"hay needle", &re, true));
        assert!(!content_matches(b"\xff\nneedle\n", &re, false));
    }

    /// A tree: a.log (5 bytes, "hello"), b.txt, .hidden.log, sub/c.log ("needle"),
    /// sub/deeper/d.log, a symlink l.log -> a.log; a.log is 0644, sub/c.log 0600.
    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("sub/deeper")).unwrap();
        std::fs::write(d.join("a.log"), "hello").unwrap();
        std::fs::write(d.join("b.txt"), "").unwrap();
        std::fs::write(d.join(".hidden.log"), "").unwrap();
        std::fs::write(d.join("sub/c.log"), "first\nneedle here\n").unwrap();
        std::fs::write(d.join("sub/deeper/d.log"), "x").unwrap();
        std::os::unix::fs::symlink("a.log", d.join("l.log")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(d.join("a.log"), std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(d.join("sub/c.log"), std::fs::Permissions::from_mode(0o600))
            .unwrap();
        dir
    }

    async fn find(dir: &std::path::Path, extra: Value) -> Map<String, Value> {
        let mut args = json!({"paths": dir.display().to_string()});
        args.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let o = run_local_with(&Find, args, json!({}), false, dir)
            .await
            .unwrap();
        assert!(!o.failed && !o.changed, "{:?}", o.msg);
        let mut data = o.data;
        data.insert("msg".into(), json!(o.msg));
        data
    }

    fn rel(dir: &std::path::Path, r: &Map<String, Value>) -> Vec<String> {
        let base = format!("{}/", dir.display());
        r["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                f["path"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches(&base)
                    .to_string()
            })
            .collect()
    }

    #[tokio::test]
    async fn finds_like_ansible() {
        let t = tree();
        let d = t.path();
        // Top level only, regular files, no hidden ones; examined counts every entry.
        let r = find(d, json!({})).await;
        assert_eq!(rel(d, &r), ["a.log", "b.txt"]);
        assert_eq!(r["matched"], json!(2));
        assert_eq!(r["examined"], json!(5));
        assert_eq!(r["msg"], json!("All paths examined"));
        let a = &r["files"][0];
        assert_eq!(a["size"], json!(5));
        assert_eq!(a["mode"], json!("0644"));
        assert_eq!(a["isreg"], json!(true));
        assert_eq!(a["isdir"], json!(false));
        assert!(a["mtime"].as_f64().unwrap() > 1e9);
        assert!(a["uid"].is_u64() && a["gid"].is_u64());
        // Globs (a comma-separated string is a list), recursion, hidden.
        let r = find(
            d,
            json!({"patterns": "*.log", "recurse": true, "hidden": true}),
        )
        .await;
        assert_eq!(
            rel(d, &r),
            [".hidden.log", "a.log", "sub/c.log", "sub/deeper/d.log"]
        );
        let r = find(
            d,
            json!({"patterns": ["*.log"], "recurse": true, "depth": 2}),
        )
        .await;
        assert_eq!(rel(d, &r), ["a.log", "sub/c.log"]);
        // Regexes, excludes.
        let r = find(d, json!({"patterns": ["^[ab]"], "use_regex": true})).await;
        assert_eq!(rel(d, &r), ["a.log", "b.txt"]);
        let r = find(d, json!({"excludes": "*.txt"})).await;
        assert_eq!(rel(d, &r), ["a.log"]);
        // File types.
        let r = find(d, json!({"file_type": "directory", "recurse": true})).await;
        assert_eq!(rel(d, &r), ["sub", "sub/deeper"]);
        assert_eq!(r["files"][0]["isdir"], json!(true));
        let r = find(d, json!({"file_type": "link"})).await;
        assert_eq!(rel(d, &r), ["l.log"]);
        assert_eq!(r["files"][0]["islnk"], json!(true));
        let r = find(d, json!({"file_type": "any", "patterns": "*.log,sub"})).await;
        assert_eq!(rel(d, &r), ["a.log", "l.log", "sub"]);
        // Size, age, mode, contents, checksum.
        let r = find(d, json!({"size": "1", "recurse": true})).await;
        assert_eq!(rel(d, &r), ["a.log", "sub/c.log", "sub/deeper/d.log"]);
        let r = find(d, json!({"size": "-1", "recurse": true})).await;
        assert_eq!(rel(d, &r), ["b.txt", "sub/deeper/d.log"]);
        let r = find(d, json!({"age": "1d"})).await;
        assert_eq!(r["matched"], json!(0));
        let r = find(d, json!({"age": "-1d"})).await;
        assert_eq!(r["matched"], json!(2));
        let r = find(d, json!({"mode": "0600", "recurse": true})).await;
        assert_eq!(rel(d, &r), ["sub/c.log"]);
        let r = find(d, json!({"contains": "needle", "recurse": true})).await;
        assert_eq!(rel(d, &r), ["sub/c.log"]);
        let r = find(d, json!({"patterns": "a.log", "get_checksum": true})).await;
        assert_eq!(
            r["files"][0]["checksum"],
            json!("aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d")
        );
        // Several paths; a missing one is skipped with a warning.
        let missing = d.join("nope").display().to_string();
        let r = find(
            d,
            json!({"paths": [d.join("sub").display().to_string(), missing.clone()]}),
        )
        .await;
        assert_eq!(rel(d, &r), ["sub/c.log"]);
        assert_eq!(
            r["skipped_paths"][&missing],
            json!(format!("'{missing}' is not a directory"))
        );
        assert_eq!(
            r["msg"],
            json!("Not all paths examined, check warnings for details")
        );
    }

    #[tokio::test]
    async fn odd_names_survive() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        for name in ["sp ace.txt", "new\nline.txt", "quo'te.txt", "$(x).txt"] {
            std::fs::write(d.join(name), "needle").unwrap();
        }
        let r = find(d, json!({"contains": "need", "get_checksum": true})).await;
        assert_eq!(
            rel(d, &r),
            ["$(x).txt", "new\nline.txt", "quo'te.txt", "sp ace.txt"]
        );
        assert!(r["files"][3]["checksum"].as_str().unwrap().len() == 40);
    }
}
