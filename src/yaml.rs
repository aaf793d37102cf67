//! YAML loading with YAML 1.1 scalar rules (as Ansible's PyYAML reads them) and a
//! source position on every node, so that any later error can point at file:line:col.
//!
//! `yes`/`no`/`on`/`off`/`true`/`false` are booleans, unquoted `0644` is octal (420),
//! `~`/`null`/empty are null. Quoted scalars are always strings. Anchors, aliases and the
//! `<<` merge key are supported. Ansible's `!unsafe` tag gives a string; a `!vault` value
//! is decrypted with the run's vault passwords ([`crate::vault`]), an error at its
//! position when it cannot be.
//!
//! Parsing is bounded, so that a hostile or broken file is an error and not an exhausted
//! controller: files larger than [`MAX_INPUT_BYTES`] are refused before they are read,
//! aliases may add at most [`MAX_ALIAS_NODES`] nodes to a document ("billion laughs"),
//! and sequences/mappings nest at most [`MAX_DEPTH`] levels. Each error names the file.

use crate::error::{Error, Result, SourceError, Span};
use indexmap::IndexMap;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A YAML value with its position.
#[derive(Debug, Clone)]
pub struct Node {
    pub kind: NodeKind,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum NodeKind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_map(&self) -> Option<&Vec<(Node, Node)>> {
        match &self.kind {
            NodeKind::Map(m) => Some(m),
            _ => None,
        }
    }
    pub fn as_seq(&self) -> Option<&Vec<Node>> {
        match &self.kind {
            NodeKind::Seq(s) => Some(s),
            _ => None,
        }
    }
    pub fn is_null(&self) -> bool {
        matches!(self.kind, NodeKind::Null)
    }
    /// Looks a key up in a mapping node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.key_string().as_deref() == Some(key))
            .map(|(_, v)| v)
    }
    /// A mapping key as a string (scalars are stringified the way Ansible does).
    pub fn key_string(&self) -> Option<String> {
        match &self.kind {
            NodeKind::Str(s) => Some(s.clone()),
            NodeKind::Int(i) => Some(i.to_string()),
            NodeKind::Bool(b) => Some(if *b { "True".into() } else { "False".into() }),
            NodeKind::Float(f) => Some(f.to_string()),
            NodeKind::Null => Some("null".into()),
            _ => None,
        }
    }
    /// A scalar rendered as a string (for `k=v` style values and names).
    pub fn scalar_string(&self) -> Option<String> {
        match &self.kind {
            NodeKind::Seq(_) | NodeKind::Map(_) => None,
            NodeKind::Null => Some(String::new()),
            _ => self.key_string(),
        }
    }
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            NodeKind::Null => "null",
            NodeKind::Bool(_) => "boolean",
            NodeKind::Int(_) => "integer",
            NodeKind::Float(_) => "float",
            NodeKind::Str(_) => "string",
            NodeKind::Seq(_) => "list",
            NodeKind::Map(_) => "mapping",
        }
    }
    pub fn error(&self, msg: impl Into<String>) -> Error {
        Error::Source(SourceError::new(&self.span, msg))
    }

    /// Converts to JSON (mapping keys stringified, order kept).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.kind {
            NodeKind::Null => J::Null,
            NodeKind::Bool(b) => J::Bool(*b),
            NodeKind::Int(i) => J::from(*i),
            NodeKind::Float(f) => serde_json::Number::from_f64(*f)
                .map(J::Number)
                .unwrap_or(J::Null),
            NodeKind::Str(s) => J::String(s.clone()),
            NodeKind::Seq(s) => J::Array(s.iter().map(Node::to_json).collect()),
            NodeKind::Map(m) => {
                let mut out = serde_json::Map::new();
                for (k, v) in m {
                    out.insert(k.key_string().unwrap_or_default(), v.to_json());
                }
                J::Object(out)
            }
        }
    }

    /// Converts to a template value (order kept).
    pub fn to_value(&self) -> minijinja::Value {
        use minijinja::Value as V;
        match &self.kind {
            NodeKind::Null => V::from(()),
            NodeKind::Bool(b) => V::from(*b),
            NodeKind::Int(i) => V::from(*i),
            NodeKind::Float(f) => V::from(*f),
            NodeKind::Str(s) => V::from(s.as_str()),
            NodeKind::Seq(s) => V::from(s.iter().map(Node::to_value).collect::<Vec<_>>()),
            NodeKind::Map(m) => {
                let mut out: IndexMap<String, V> = IndexMap::new();
                for (k, v) in m {
                    out.insert(k.key_string().unwrap_or_default(), v.to_value());
                }
                V::from_pairs(out)
            }
        }
    }
}

/// The largest input file rdeploy reads (YAML, JSON, INI, an inventory script's output).
pub const MAX_INPUT_BYTES: usize = 64 << 20;
/// The most nodes aliases (`*a`, `<<: *a`) may add to one YAML stream.
pub const MAX_ALIAS_NODES: usize = 100_000;
/// The deepest nesting of sequences and mappings in a YAML document.
pub const MAX_DEPTH: usize = 200;

/// The error for an input over [`MAX_INPUT_BYTES`]; `what` names it (a file).
pub fn too_large(what: impl std::fmt::Display) -> Error {
    Error::usage(format!(
        "{what}: input larger than {} MiB, refused",
        MAX_INPUT_BYTES >> 20
    ))
}

/// Reads a user file as text, refusing files over [`MAX_INPUT_BYTES`] (checked before and
/// while reading, so a growing file or a device cannot get past it).
pub fn read_input(path: &Path) -> Result<String> {
    use std::io::Read;
    let cannot = |e| Error::io(format!("cannot read {}", path.display()), e);
    let file = std::fs::File::open(path).map_err(cannot)?;
    if file.metadata().map_err(cannot)?.len() > MAX_INPUT_BYTES as u64 {
        return Err(too_large(path.display()));
    }
    let mut bytes = Vec::new();
    file.take(MAX_INPUT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(too_large(path.display()));
    }
    String::from_utf8(bytes).map_err(|e| {
        cannot(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            e.utf8_error(),
        ))
    })
}

/// Reads and parses a YAML file; returns the first document (Null for an empty file).
/// A vault-encrypted file is decrypted first ([`crate::vault::read_text`]) and its string
/// values are registered for censoring.
pub fn load_file(path: &Path) -> Result<Node> {
    let (text, vaulted) = crate::vault::read_text(path)?;
    let node = load_str(&text, path)?;
    if vaulted {
        crate::vault::censor::register_values(&node);
    }
    Ok(node)
}

/// Parses YAML text; `path` is used for positions.
pub fn load_str(text: &str, path: &Path) -> Result<Node> {
    let mut docs = load_all_str(text, path)?;
    if docs.is_empty() {
        let file = Arc::new(path.to_path_buf());
        return Ok(Node {
            kind: NodeKind::Null,
            span: Span::new(&file, 1, 1),
        });
    }
    Ok(docs.swap_remove(0))
}

/// Parses every document of a YAML stream.
pub fn load_all_str(text: &str, path: &Path) -> Result<Vec<Node>> {
    if text.len() > MAX_INPUT_BYTES {
        return Err(too_large(path.display()));
    }
    let file = Arc::new(path.to_path_buf());
    let mut builder = Builder {
        file: file.clone(),
        stack: vec![],
        docs: vec![],
        anchors: HashMap::new(),
        alias_nodes: 0,
        error: None,
    };
    let mut parser = Parser::new_from_str(text);
    if let Err(e) = parser.load(&mut builder, true) {
        let m = e.marker();
        return Err(Error::Source(SourceError::new(
            &Span::new(&file, m.line(), m.col() + 1),
            format!("invalid YAML: {}", e.info()),
        )));
    }
    if let Some(e) = builder.error {
        return Err(e);
    }
    Ok(builder.docs)
}

/// An open collection: its items so far, where it starts, its anchor id, and how many
/// nodes it holds (itself included), so that an alias knows what it costs.
struct Frame {
    kind: FrameKind,
    span: Span,
    anchor: usize,
    size: usize,
}

enum FrameKind {
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>, Option<Node>),
}

struct Builder {
    file: Arc<PathBuf>,
    stack: Vec<Frame>,
    docs: Vec<Node>,
    /// Anchored nodes with their size in nodes.
    anchors: HashMap<usize, (Node, usize)>,
    /// Nodes added by aliases so far (bounded by [`MAX_ALIAS_NODES`]).
    alias_nodes: usize,
    error: Option<Error>,
}

impl Builder {
    fn span(&self, m: &Marker) -> Span {
        Span::new(&self.file, m.line(), m.col() + 1)
    }

    fn open(&mut self, kind: FrameKind, mark: &Marker, anchor: usize) {
        let span = self.span(mark);
        if self.stack.len() >= MAX_DEPTH {
            self.error = Some(Error::source_at(
                &span,
                format!("YAML nested deeper than {MAX_DEPTH} levels, refused"),
            ));
            return;
        }
        self.stack.push(Frame {
            kind,
            span,
            anchor,
            size: 1,
        });
    }

    fn alias(&mut self, id: usize, mark: &Marker) {
        let span = self.span(mark);
        let Some((node, size)) = self.anchors.get(&id) else {
            self.error = Some(Error::source_at(&span, "unknown YAML alias"));
            return;
        };
        self.alias_nodes += size;
        if self.alias_nodes > MAX_ALIAS_NODES {
            self.error = Some(Error::source_at(
                &span,
                format!(
                    "YAML aliases expand to more than {MAX_ALIAS_NODES} nodes, refused \
                     (an alias bomb?)"
                ),
            ));
            return;
        }
        let (node, size) = (node.clone(), *size);
        self.push_node(node, 0, size);
    }

    fn push_node(&mut self, node: Node, anchor: usize, size: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, (node.clone(), size));
        }
        let Some(frame) = self.stack.last_mut() else {
            self.docs.push(node);
            return;
        };
        frame.size += size;
        match &mut frame.kind {
            FrameKind::Seq(items) => items.push(node),
            FrameKind::Map(entries, pending) => match pending.take() {
                None => *pending = Some(node),
                Some(key) => {
                    if key.as_str() == Some("<<") {
                        merge_into(entries, node);
                    } else if let Some(pos) = entries.iter().position(|(k, _)| same_key(k, &key)) {
                        entries[pos] = (key, node);
                    } else {
                        entries.push((key, node));
                    }
                }
            },
        }
    }
}

fn same_key(a: &Node, b: &Node) -> bool {
    a.key_string().is_some() && a.key_string() == b.key_string()
}

/// YAML merge key: `<<: *anchor` or `<<: [*a, *b]`; explicit keys win.
fn merge_into(entries: &mut Vec<(Node, Node)>, src: Node) {
    let maps: Vec<Node> = match src.kind {
        NodeKind::Seq(items) => items,
        _ => vec![src],
    };
    for m in maps {
        if let NodeKind::Map(kv) = m.kind {
            for (k, v) in kv {
                if !entries.iter().any(|(ek, _)| same_key(ek, &k)) {
                    entries.push((k, v));
                }
            }
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        match ev {
            Event::Scalar(value, style, anchor, tag) => {
                let span = self.span(&mark);
                let kind = if tag.as_ref().is_some_and(|t| t.suffix == "vault") {
                    match crate::vault::decrypt_inline(&value) {
                        Ok(plain) => NodeKind::Str(plain),
                        Err(e) => {
                            self.error =
                                Some(Error::source_at(&span, format!("this !vault value: {e}")));
                            return;
                        }
                    }
                } else if style != TScalarStyle::Plain {
                    NodeKind::Str(value)
                } else if let Some(tag) = &tag {
                    match tag.suffix.as_str() {
                        "str" | "unsafe" => NodeKind::Str(value),
                        _ => resolve_plain(value),
                    }
                } else {
                    resolve_plain(value)
                };
                self.push_node(Node { kind, span }, anchor, 1);
            }
            Event::SequenceStart(anchor, _) => self.open(FrameKind::Seq(vec![]), &mark, anchor),
            Event::MappingStart(anchor, _) => {
                self.open(FrameKind::Map(vec![], None), &mark, anchor)
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = self.stack.pop() else {
                    return;
                };
                let (kind, span) = match frame.kind {
                    FrameKind::Seq(items) => (NodeKind::Seq(items), frame.span),
                    FrameKind::Map(entries, _) => {
                        // A block mapping's own marker points after its first key; the
                        // first key is where users see the mapping start.
                        let span = entries
                            .first()
                            .map(|(k, _)| k.span.clone())
                            .unwrap_or(frame.span);
                        (NodeKind::Map(entries), span)
                    }
                };
                self.push_node(Node { kind, span }, frame.anchor, frame.size);
            }
            Event::Alias(id) => self.alias(id, &mark),
            _ => {}
        }
    }
}

/// YAML 1.1 (PyYAML) resolution of a plain scalar.
pub fn resolve_plain(s: String) -> NodeKind {
    match s.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => return NodeKind::Null,
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return NodeKind::Bool(true)
        }
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return NodeKind::Bool(false)
        }
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return NodeKind::Float(f64::INFINITY)
        }
        "-.inf" | "-.Inf" | "-.INF" => return NodeKind::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return NodeKind::Float(f64::NAN),
        _ => {}
    }
    if let Some(i) = parse_int_11(&s) {
        return NodeKind::Int(i);
    }
    if looks_float(&s) {
        if let Ok(f) = s.replace('_', "").parse::<f64>() {
            return NodeKind::Float(f);
        }
    }
    NodeKind::Str(s)
}

fn parse_int_11(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() {
        return None;
    }
    let clean = body.replace('_', "");
    if clean.is_empty() {
        return None;
    }
    let v = if let Some(b) = clean.strip_prefix("0b") {
        i64::from_str_radix(b, 2).ok()?
    } else if let Some(h) = clean.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()?
    } else if clean.len() > 1 && clean.starts_with('0') {
        if !clean.bytes().all(|c| (b'0'..=b'7').contains(&c)) {
            return None;
        }
        i64::from_str_radix(&clean, 8).ok()?
    } else {
        if !clean.bytes().all(|c| c.is_ascii_digit()) || body.starts_with('_') {
            return None;
        }
        clean.parse::<i64>().ok()?
    };
    Some(if neg { -v } else { v })
}

fn looks_float(s: &str) -> bool {
    let b = s.trim_start_matches(['-', '+']);
    if b.is_empty() || !b.contains('.') {
        return false;
    }
    let mut seen_digit = false;
    let mut chars = b.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '0'..='9' => seen_digit = true,
            '_' | '.' => {}
            'e' | 'E' => {
                return seen_digit
                    && matches!(chars.next(), Some('+') | Some('-'))
                    && chars.clone().count() > 0
                    && chars.all(|c| c.is_ascii_digit());
            }
            _ => return false,
        }
    }
    seen_digit
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(s: &str) -> Node {
        load_str(s, Path::new("t.yml")).unwrap()
    }

    #[test]
    fn yaml11_scalars() {
        let n = load("a: yes\nb: 0644\nc: '0644'\nd: off\ne: 1.5\nf: ~\ng: 0x1f\nh: 1_000\ni: web01\nj: 08\n");
        let j = n.to_json();
        assert_eq!(j["a"], serde_json::json!(true));
        assert_eq!(j["b"], serde_json::json!(420));
        assert_eq!(j["c"], serde_json::json!("0644"));
        assert_eq!(j["d"], serde_json::json!(false));
        assert_eq!(j["e"], serde_json::json!(1.5));
        assert_eq!(j["f"], serde_json::Value::Null);
        assert_eq!(j["g"], serde_json::json!(31));
        assert_eq!(j["h"], serde_json::json!(1000));
        assert_eq!(j["i"], serde_json::json!("web01"));
        assert_eq!(j["j"], serde_json::json!("08"));
    }

    #[test]
    fn positions_are_one_based() {
        let n = load("- name: x\n  debug:\n    msg: hi\n");
        let task = &n.as_seq().unwrap()[0];
        let dbg = task.get("debug").unwrap();
        let msg = dbg.get("msg").unwrap();
        assert_eq!((msg.span.line, msg.span.col), (3, 10));
        assert_eq!((task.span.line, task.span.col), (1, 3));
    }

    #[test]
    fn merge_keys_and_aliases() {
        let n = load("base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\n");
        let j = n.to_json();
        assert_eq!(j["other"], serde_json::json!({"y": 3, "x": 1}));
    }

    #[test]
    fn alias_bombs_are_refused_quickly() {
        let mut doc = String::from("a: &a [x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let prev = (b'a' + i - 1) as char;
            let cur = (b'a' + i) as char;
            doc.push_str(&format!(
                "{cur}: &{cur} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
        }
        assert!(doc.len() < 1000, "{}", doc.len());
        let start = std::time::Instant::now();
        let e = load_str(&doc, Path::new("bomb.yml"))
            .unwrap_err()
            .to_string();
        assert!(start.elapsed() < std::time::Duration::from_millis(500));
        assert!(e.starts_with("bomb.yml:"), "{e}");
        assert!(
            e.contains("aliases expand to more than 100000 nodes"),
            "{e}"
        );
        // Reasonable use of aliases is fine.
        let ok = load("base: &b {x: 1}\nl: [*b, *b, *b]\nm:\n  <<: *b\n");
        assert_eq!(ok.to_json()["l"][2]["x"], serde_json::json!(1));
    }

    #[test]
    fn nesting_depth_is_bounded() {
        // n block mappings, one inside the other.
        let nested = |n: usize| {
            let mut doc = String::new();
            for i in 0..n {
                let tail = if i + 1 == n { " 1" } else { "" };
                doc.push_str(&format!("{}k:{tail}\n", "  ".repeat(i)));
            }
            doc
        };
        let e = load_str(&nested(MAX_DEPTH + 1), Path::new("deep.yml"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("deep.yml:201:"), "{e}");
        assert!(e.contains("nested deeper than 200 levels"), "{e}");
        assert!(load_str(&nested(MAX_DEPTH), Path::new("ok.yml")).is_ok());
        let flow = format!(
            "{}1{}",
            "[".repeat(MAX_DEPTH + 1),
            "]".repeat(MAX_DEPTH + 1)
        );
        let e = load_str(&flow, Path::new("flow.yml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("nested deeper than 200 levels"), "{e}");
    }

    #[test]
    fn input_size_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.yml");
        let f = std::fs::File::create(&big).unwrap();
        f.set_len(MAX_INPUT_BYTES as u64 + 1).unwrap();
        let e = load_file(&big).unwrap_err().to_string();
        assert!(e.contains("big.yml: input larger than 64 MiB"), "{e}");
        let text = " ".repeat(MAX_INPUT_BYTES + 1);
        let e = load_str(&text, Path::new("s.yml")).unwrap_err().to_string();
        assert!(e.starts_with("s.yml: input larger than 64 MiB"), "{e}");
    }

    #[test]
    fn syntax_error_has_position() {
        let e = load_str("a: [1, 2\nb: 3\n", Path::new("bad.yml")).unwrap_err();
        let s = e.to_string();
        assert!(s.starts_with("bad.yml:"), "{s}");
    }
}
