//! YAML, written like PyYAML's `yaml.dump` with Ansible's dumper.

use super::*;

pub(crate) fn yaml_options(
    p: &mut Params,
    indent: Option<Value>,
    flow: Option<bool>,
) -> Result<yaml_dump::Options, Error> {
    let mut o = yaml_dump::Options::default();
    if let Some(i) = opt_int(p.kw("indent").or(indent), "indent")? {
        if i > 1 && i < 10 {
            o.indent = i as usize;
        }
    }
    if let Some(w) = opt_int(p.kw("width"), "width")? {
        if w > (o.indent * 2) as i64 {
            o.width = w as usize;
        }
    }
    o.sort_keys = opt_bool(p.kw("sort_keys"), true);
    o.flow = match p.kw("default_flow_style") {
        Some(v) if v.is_none() => None,
        Some(v) => Some(v.is_true()),
        None => flow,
    };
    o.explicit_start = opt_bool(p.kw("explicit_start"), false);
    o.explicit_end = opt_bool(p.kw("explicit_end"), false);
    o.allow_unicode = opt_bool(p.kw("allow_unicode"), true);
    p.kw("vault_behavior");
    p.kw("Dumper");
    Ok(o)
}

/// `to_yaml`: PyYAML's default style (collections of scalars in flow style).
pub(crate) fn to_yaml(value: &Value, args: Rest<ValueOrKwargs>) -> Result<String, Error> {
    let mut p = Params::new("to_yaml", args);
    let o = yaml_options(&mut p, None, None)?;
    p.rest();
    p.finish()?;
    yaml_dump::dump(value, &o)
}

/// `to_nice_yaml(indent=4)`: block style everywhere.
pub(crate) fn to_nice_yaml(value: &Value, args: Rest<ValueOrKwargs>) -> Result<String, Error> {
    let mut p = Params::new("to_nice_yaml", args);
    let indent = p.take("indent").unwrap_or(Value::from(4));
    let o = yaml_options(&mut p, Some(indent), Some(false))?;
    p.rest();
    p.finish()?;
    yaml_dump::dump(value, &o)
}

pub(crate) fn yaml_error(e: crate::error::Error) -> Error {
    fail(format!("from_yaml: {e}"))
}

pub(crate) fn from_yaml(value: &Value) -> Result<Value, Error> {
    defined(value, "from_yaml")?;
    match value.as_str() {
        Some(text) => Ok(
            crate::yaml::load_str(text, std::path::Path::new("<from_yaml>"))
                .map_err(yaml_error)?
                .to_value(),
        ),
        None => Ok(value.clone()),
    }
}

pub(crate) fn from_yaml_all(value: &Value) -> Result<Value, Error> {
    defined(value, "from_yaml_all")?;
    if value.is_none() {
        return Ok(Value::from(Vec::<Value>::new()));
    }
    match value.as_str() {
        Some(text) => {
            let docs = crate::yaml::load_all_str(text, std::path::Path::new("<from_yaml_all>"))
                .map_err(yaml_error)?;
            Ok(Value::from(
                docs.iter().map(|d| d.to_value()).collect::<Vec<_>>(),
            ))
        }
        None => Ok(value.clone()),
    }
}

/// A port of PyYAML's emitter (`yaml/emitter.py`) and safe representer, for the subset
/// Ansible's dumper produces: block and flow collections, plain, single- and double-quoted
/// scalars, line folding at `width`. (libyaml, which Ansible uses when present, does not
/// write PyYAML's `...` after a lone root scalar; neither does this.)
pub(crate) mod yaml_dump {
    use super::*;

    pub struct Options {
        pub indent: usize,
        pub width: usize,
        pub sort_keys: bool,
        /// `default_flow_style`: `None` = flow for collections of scalars only.
        pub flow: Option<bool>,
        pub explicit_start: bool,
        pub explicit_end: bool,
        pub allow_unicode: bool,
    }

    impl Default for Options {
        fn default() -> Self {
            Options {
                indent: 2,
                width: 80,
                sort_keys: true,
                flow: None,
                explicit_start: false,
                explicit_end: false,
                allow_unicode: true,
            }
        }
    }

    enum Node {
        /// `plain_implicit`: reading the text back as a plain scalar gives the same type.
        Scalar {
            text: Vec<char>,
            plain_implicit: bool,
        },
        Seq {
            items: Vec<Node>,
            flow: bool,
        },
        Map {
            pairs: Vec<(Node, Node)>,
            flow: bool,
        },
    }

    impl Node {
        fn is_scalar(&self) -> bool {
            matches!(self, Node::Scalar { .. })
        }
    }

    fn resolves_to_non_str(s: &str) -> bool {
        use std::sync::OnceLock;
        static RE: OnceLock<regex::Regex> = OnceLock::new();
        let re = RE.get_or_init(|| {
            let bool_ = r"yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF";
            let float = r"[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)";
            let int = r"[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+";
            let null = r"~|null|Null|NULL|";
            let ts = r"[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?";
            regex::Regex::new(&format!(r"^(?:{bool_}|{float}|{int}|{null}|{ts}|<<|=)$")).expect("valid resolver regex")
        });
        re.is_match(s)
    }

    fn represent(v: &Value, o: &Options) -> Result<Node, Error> {
        let scalar = |text: String, plain_implicit: bool| Node::Scalar {
            text: text.chars().collect(),
            plain_implicit,
        };
        Ok(match v.kind() {
            ValueKind::Undefined => return Err(undefined_error("to_yaml")),
            ValueKind::None => scalar("null".into(), true),
            ValueKind::Bool => scalar(if v.is_true() { "true" } else { "false" }.into(), true),
            ValueKind::Number if v.is_integer() => scalar(v.to_string(), true),
            ValueKind::Number => {
                let f = as_f64(v).unwrap_or(f64::NAN);
                let text = if f.is_nan() {
                    ".nan".to_string()
                } else if f.is_infinite() {
                    if f > 0.0 { ".inf" } else { "-.inf" }.to_string()
                } else {
                    let r = py_float_repr(f).to_lowercase();
                    if !r.contains('.') && r.contains('e') {
                        r.replacen('e', ".0e", 1)
                    } else {
                        r
                    }
                };
                scalar(text, true)
            }
            ValueKind::String => {
                let s = v.as_str().unwrap_or_default();
                scalar(s.to_string(), !resolves_to_non_str(s))
            }
            ValueKind::Bytes => {
                let s = String::from_utf8_lossy(v.as_bytes().unwrap_or_default()).into_owned();
                let plain = !resolves_to_non_str(&s);
                scalar(s, plain)
            }
            ValueKind::Map => {
                let mut items = map_items(v)?;
                if o.sort_keys {
                    items.sort_by(|a, b| a.0.cmp(&b.0));
                }
                let mut pairs = Vec::new();
                for (k, val) in items {
                    pairs.push((represent(&k, o)?, represent(&val, o)?));
                }
                let best = pairs.iter().all(|(k, v)| k.is_scalar() && v.is_scalar());
                Node::Map {
                    flow: o.flow.unwrap_or(best),
                    pairs,
                }
            }
            ValueKind::Seq | ValueKind::Iterable => {
                let mut items = Vec::new();
                for item in v.try_iter()? {
                    items.push(represent(&item, o)?);
                }
                let best = items.iter().all(Node::is_scalar);
                Node::Seq {
                    flow: o.flow.unwrap_or(best),
                    items,
                }
            }
            _ => scalar(v.to_string(), !resolves_to_non_str(&v.to_string())),
        })
    }

    pub fn dump(v: &Value, o: &Options) -> Result<String, Error> {
        let node = represent(v, o)?;
        let mut e = Emitter {
            out: String::new(),
            indent: None,
            indents: Vec::new(),
            flow_level: 0,
            mapping_context: false,
            simple_key_context: false,
            column: 0,
            whitespace: true,
            indention: true,
            best_indent: o.indent,
            best_width: o.width,
            allow_unicode: o.allow_unicode,
        };
        if o.explicit_start {
            e.write_indent();
            e.write_indicator("---", true, false, false);
        }
        e.node(&node, false, false);
        e.write_indent();
        if o.explicit_end {
            e.write_indicator("...", true, false, false);
            e.write_indent();
        }
        Ok(e.out)
    }

    struct Analysis {
        empty: bool,
        multiline: bool,
        allow_flow_plain: bool,
        allow_block_plain: bool,
        allow_single_quoted: bool,
    }

    fn is_break(c: char) -> bool {
        matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
    }

    fn is_blankz(c: Option<char>) -> bool {
        match c {
            None | Some('\0') | Some(' ') | Some('\t') => true,
            Some(c) => is_break(c),
        }
    }

    /// libyaml's `IS_PRINTABLE`.
    fn is_printable(c: char) -> bool {
        c == '\n'
            || ('\x20'..='\x7e').contains(&c)
            || ('\u{a0}'..='\u{d7ff}').contains(&c)
            || (('\u{e000}'..='\u{fffd}').contains(&c) && c != '\u{feff}')
    }

    /// libyaml's `yaml_emitter_analyze_scalar`.
    fn analyze(s: &[char], allow_unicode: bool) -> Analysis {
        if s.is_empty() {
            return Analysis {
                empty: true,
                multiline: false,
                allow_flow_plain: false,
                allow_block_plain: true,
                allow_single_quoted: true,
            };
        }
        let mut block_indicators = false;
        let mut flow_indicators = false;
        let mut line_breaks = false;
        let mut special_characters = false;
        let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) =
            (false, false, false, false);
        let (mut break_space, mut space_break, mut previous_space, mut previous_break) =
            (false, false, false, false);
        let starts = |p: &str| s.iter().take(3).collect::<String>() == p;
        if starts("---") || starts("...") {
            block_indicators = true;
            flow_indicators = true;
        }
        let mut preceded_by_whitespace = true;
        let mut followed_by_whitespace = is_blankz(s.get(1).copied());
        for (index, &ch) in s.iter().enumerate() {
            if index == 0 {
                if "#,[]{}&*!|>'\"%@`".contains(ch) {
                    flow_indicators = true;
                    block_indicators = true;
                }
                if ch == '?' || ch == ':' {
                    flow_indicators = true;
                    if followed_by_whitespace {
                        block_indicators = true;
                    }
                }
                if ch == '-' && followed_by_whitespace {
                    flow_indicators = true;
                    block_indicators = true;
                }
            } else {
                if ",?[]{}".contains(ch) {
                    flow_indicators = true;
                }
                if ch == ':' {
                    flow_indicators = true;
                    if followed_by_whitespace {
                        block_indicators = true;
                    }
                }
                if ch == '#' && preceded_by_whitespace {
                    flow_indicators = true;
                    block_indicators = true;
                }
            }
            if !is_printable(ch) || (!ch.is_ascii() && !allow_unicode) {
                special_characters = true;
            }
            if is_break(ch) {
                line_breaks = true;
            }
            let last = index == s.len() - 1;
            if ch == ' ' {
                leading_space |= index == 0;
                trailing_space |= last;
                break_space |= previous_break;
                previous_space = true;
                previous_break = false;
            } else if is_break(ch) {
                leading_break |= index == 0;
                trailing_break |= last;
                space_break |= previous_space;
                previous_space = false;
                previous_break = true;
            } else {
                previous_space = false;
                previous_break = false;
            }
            preceded_by_whitespace = is_blankz(Some(ch));
            if index + 1 < s.len() {
                followed_by_whitespace = is_blankz(s.get(index + 2).copied());
            }
        }
        let mut a = Analysis {
            empty: false,
            multiline: line_breaks,
            allow_flow_plain: true,
            allow_block_plain: true,
            allow_single_quoted: true,
        };
        if leading_space || leading_break || trailing_space || trailing_break {
            a.allow_flow_plain = false;
            a.allow_block_plain = false;
        }
        if break_space {
            a.allow_flow_plain = false;
            a.allow_block_plain = false;
            a.allow_single_quoted = false;
        }
        if space_break || special_characters {
            a.allow_flow_plain = false;
            a.allow_block_plain = false;
            a.allow_single_quoted = false;
        }
        if line_breaks {
            a.allow_flow_plain = false;
            a.allow_block_plain = false;
        }
        if flow_indicators {
            a.allow_flow_plain = false;
        }
        if block_indicators {
            a.allow_block_plain = false;
        }
        a
    }

    struct Emitter {
        out: String,
        indent: Option<usize>,
        indents: Vec<Option<usize>>,
        flow_level: usize,
        mapping_context: bool,
        simple_key_context: bool,
        column: usize,
        whitespace: bool,
        indention: bool,
        best_indent: usize,
        best_width: usize,
        allow_unicode: bool,
    }

    impl Emitter {
        fn increase_indent(&mut self, flow: bool, indentless: bool) {
            self.indents.push(self.indent);
            self.indent = match self.indent {
                None => Some(if flow { self.best_indent } else { 0 }),
                Some(i) if !indentless => Some(i + self.best_indent),
                Some(i) => Some(i),
            };
        }

        fn pop_indent(&mut self) {
            self.indent = self.indents.pop().unwrap_or(None);
        }

        fn write(&mut self, s: &str) {
            self.column += s.chars().count();
            self.out.push_str(s);
        }

        fn write_indicator(
            &mut self,
            indicator: &str,
            need_whitespace: bool,
            whitespace: bool,
            indention: bool,
        ) {
            let data = if self.whitespace || !need_whitespace {
                indicator.to_string()
            } else {
                format!(" {indicator}")
            };
            self.whitespace = whitespace;
            self.indention = self.indention && indention;
            self.write(&data);
        }

        fn write_indent(&mut self) {
            let indent = self.indent.unwrap_or(0);
            if !self.indention
                || self.column > indent
                || (self.column == indent && !self.whitespace)
            {
                self.write_line_break(None);
            }
            if self.column < indent {
                self.whitespace = true;
                let pad = " ".repeat(indent - self.column);
                self.write(&pad);
            }
        }

        fn write_line_break(&mut self, data: Option<char>) {
            self.whitespace = true;
            self.indention = true;
            self.column = 0;
            self.out.push(data.unwrap_or('\n'));
        }

        /// libyaml's `yaml_emitter_check_simple_key`: one line, at most 128 bytes.
        fn check_simple_key(&self, node: &Node) -> bool {
            match node {
                Node::Scalar { text, .. } => {
                    let a = analyze(text, self.allow_unicode);
                    let bytes: usize = text.iter().map(|c| c.len_utf8()).sum();
                    !a.multiline && bytes <= 128
                }
                Node::Seq { items, .. } => items.is_empty(),
                Node::Map { pairs, .. } => pairs.is_empty(),
            }
        }

        fn node(&mut self, node: &Node, mapping: bool, simple_key: bool) {
            self.mapping_context = mapping;
            self.simple_key_context = simple_key;
            match node {
                Node::Scalar {
                    text,
                    plain_implicit,
                } => {
                    self.increase_indent(true, false);
                    self.scalar(text, *plain_implicit);
                    self.pop_indent();
                }
                Node::Seq { items, flow } => {
                    if self.flow_level > 0 || *flow || items.is_empty() {
                        self.flow_sequence(items);
                    } else {
                        self.block_sequence(items);
                    }
                }
                Node::Map { pairs, flow } => {
                    if self.flow_level > 0 || *flow || pairs.is_empty() {
                        self.flow_mapping(pairs);
                    } else {
                        self.block_mapping(pairs);
                    }
                }
            }
        }

        fn flow_sequence(&mut self, items: &[Node]) {
            self.write_indicator("[", true, true, false);
            self.flow_level += 1;
            self.increase_indent(true, false);
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    self.write_indicator(",", false, false, false);
                }
                if self.column > self.best_width {
                    self.write_indent();
                }
                self.node(item, false, false);
            }
            self.pop_indent();
            self.flow_level -= 1;
            self.write_indicator("]", false, false, false);
        }

        fn flow_mapping(&mut self, pairs: &[(Node, Node)]) {
            self.write_indicator("{", true, true, false);
            self.flow_level += 1;
            self.increase_indent(true, false);
            for (i, (k, v)) in pairs.iter().enumerate() {
                if i > 0 {
                    self.write_indicator(",", false, false, false);
                }
                if self.column > self.best_width {
                    self.write_indent();
                }
                if self.check_simple_key(k) {
                    self.node(k, true, true);
                    self.write_indicator(":", false, false, false);
                } else {
                    self.write_indicator("?", true, false, false);
                    self.node(k, true, false);
                    if self.column > self.best_width {
                        self.write_indent();
                    }
                    self.write_indicator(":", true, false, false);
                }
                self.node(v, true, false);
            }
            self.pop_indent();
            self.flow_level -= 1;
            self.write_indicator("}", false, false, false);
        }

        fn block_sequence(&mut self, items: &[Node]) {
            let indentless = self.mapping_context && !self.indention;
            self.increase_indent(false, indentless);
            for item in items {
                self.write_indent();
                self.write_indicator("-", true, false, true);
                self.node(item, false, false);
            }
            self.pop_indent();
        }

        fn block_mapping(&mut self, pairs: &[(Node, Node)]) {
            self.increase_indent(false, false);
            for (k, v) in pairs {
                self.write_indent();
                if self.check_simple_key(k) {
                    self.node(k, true, true);
                    self.write_indicator(":", false, false, false);
                } else {
                    self.write_indicator("?", true, false, true);
                    self.node(k, true, false);
                    self.write_indent();
                    self.write_indicator(":", true, false, true);
                }
                self.node(v, true, false);
            }
            self.pop_indent();
        }

        /// libyaml's `yaml_emitter_select_scalar_style` and writers.
        fn scalar(&mut self, text: &[char], plain_implicit: bool) {
            let a = analyze(text, self.allow_unicode);
            let flow = self.flow_level > 0;
            let mut style = 'p';
            if (flow && !a.allow_flow_plain) || (!flow && !a.allow_block_plain) {
                style = '\'';
            }
            if a.empty && (flow || self.simple_key_context) {
                style = '\'';
            }
            if !plain_implicit {
                style = '\'';
            }
            if style == '\'' && !a.allow_single_quoted {
                style = '"';
            }
            let allow_breaks = !self.simple_key_context;
            match style {
                'p' => self.write_plain(text, allow_breaks),
                '\'' => self.write_single_quoted(text, allow_breaks),
                _ => self.write_double_quoted(text, allow_breaks),
            }
        }

        fn put(&mut self, c: char) {
            self.out.push(c);
            self.column += 1;
        }

        fn put_break(&mut self) {
            self.out.push('\n');
            self.column = 0;
        }

        /// libyaml's `WRITE_BREAK`: a line break as itself (`\n` for `\r\n`-less input).
        fn write_break(&mut self, c: char) {
            if c == '\n' {
                self.put_break();
            } else {
                self.out.push(c);
                self.column = 0;
            }
        }

        fn write_plain(&mut self, text: &[char], allow_breaks: bool) {
            if !self.whitespace && (!text.is_empty() || self.flow_level > 0) {
                self.put(' ');
            }
            let (mut spaces, mut breaks) = (false, false);
            let mut i = 0;
            while i < text.len() {
                let c = text[i];
                if c == ' ' {
                    if allow_breaks
                        && !spaces
                        && self.column > self.best_width
                        && text.get(i + 1) != Some(&' ')
                    {
                        self.write_indent_libyaml();
                    } else {
                        self.put(c);
                    }
                    spaces = true;
                } else if is_break(c) {
                    if !breaks && c == '\n' {
                        self.put_break();
                    }
                    self.write_break(c);
                    self.indention = true;
                    breaks = true;
                } else {
                    if breaks {
                        self.write_indent_libyaml();
                    }
                    self.put(c);
                    self.indention = false;
                    spaces = false;
                    breaks = false;
                }
                i += 1;
            }
            self.whitespace = false;
            self.indention = false;
        }

        fn write_single_quoted(&mut self, text: &[char], allow_breaks: bool) {
            self.write_indicator("'", true, false, false);
            let (mut spaces, mut breaks) = (false, false);
            let mut i = 0;
            while i < text.len() {
                let c = text[i];
                if c == ' ' {
                    if allow_breaks
                        && !spaces
                        && self.column > self.best_width
                        && i != 0
                        && i != text.len() - 1
                        && text.get(i + 1) != Some(&' ')
                    {
                        self.write_indent_libyaml();
                    } else {
                        self.put(c);
                    }
                    spaces = true;
                } else if is_break(c) {
                    if !breaks && c == '\n' {
                        self.put_break();
                    }
                    self.write_break(c);
                    self.indention = true;
                    breaks = true;
                } else {
                    if breaks {
                        self.write_indent_libyaml();
                    }
                    if c == '\'' {
                        self.put('\'');
                    }
                    self.put(c);
                    self.indention = false;
                    spaces = false;
                    breaks = false;
                }
                i += 1;
            }
            if breaks {
                self.write_indent_libyaml();
            }
            self.write_indicator("'", false, false, false);
            self.whitespace = false;
            self.indention = false;
        }

        fn write_double_quoted(&mut self, text: &[char], allow_breaks: bool) {
            self.write_indicator("\"", true, false, false);
            let mut spaces = false;
            let mut i = 0;
            while i < text.len() {
                let c = text[i];
                if !is_printable(c)
                    || (!self.allow_unicode && !c.is_ascii())
                    || c == '\u{feff}'
                    || is_break(c)
                    || c == '"'
                    || c == '\\'
                {
                    let esc = match c {
                        '\0' => "\\0".to_string(),
                        '\u{07}' => "\\a".to_string(),
                        '\u{08}' => "\\b".to_string(),
                        '\t' => "\\t".to_string(),
                        '\n' => "\\n".to_string(),
                        '\u{0b}' => "\\v".to_string(),
                        '\u{0c}' => "\\f".to_string(),
                        '\r' => "\\r".to_string(),
                        '\u{1b}' => "\\e".to_string(),
                        '"' => "\\\"".to_string(),
                        '\\' => "\\\\".to_string(),
                        '\u{85}' => "\\N".to_string(),
                        '\u{a0}' => "\\_".to_string(),
                        '\u{2028}' => "\\L".to_string(),
                        '\u{2029}' => "\\P".to_string(),
                        c if (c as u32) <= 0xff => format!("\\x{:02X}", c as u32),
                        c if (c as u32) <= 0xffff => format!("\\u{:04X}", c as u32),
                        c => format!("\\U{:08X}", c as u32),
                    };
                    self.write(&esc);
                    spaces = false;
                } else if c == ' ' {
                    if allow_breaks
                        && !spaces
                        && self.column > self.best_width
                        && i != 0
                        && i != text.len() - 1
                    {
                        self.write_indent_libyaml();
                        if text.get(i + 1) == Some(&' ') {
                            self.put('\\');
                        }
                    } else {
                        self.put(c);
                    }
                    spaces = true;
                } else {
                    self.put(c);
                    spaces = false;
                }
                i += 1;
            }
            self.write_indicator("\"", false, false, false);
            self.whitespace = false;
            self.indention = false;
        }

        /// libyaml's `yaml_emitter_write_indent` (it always leaves `whitespace` and
        /// `indention` set).
        fn write_indent_libyaml(&mut self) {
            self.write_indent();
            self.whitespace = true;
            self.indention = true;
        }
    }
}
