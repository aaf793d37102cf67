//! Templating: minijinja set up the way Ansible renders (strict undefined variables,
//! `trim_blocks`, trailing newline kept in inline strings, Ansible's trailing newline
//! rule for template files), with Ansible's filters ([`filters`]), tests
//! ([`tests`]) and lookups ([`lookup`]).
//!
//! Undefined values are strict but chainable, as in ansible-core 2.19+:
//! `{{ a.b.c | default('x') }}` and `a.b.c is defined` work when `a` is undefined, while
//! printing, iterating, comparing or testing the truth of an undefined value fails with
//! the undefined variable's name (minijinja's `ChainableStrict`, see
//! `vendor/minijinja/RDEPLOY-PATCH.md`).
//!
//! A string that is exactly one `{{ expression }}` keeps the expression's native type
//! (`"{{ ports }}"` is a list, as in Ansible); anything else renders to a string.

pub mod filters;
pub mod frame;
pub mod lookup;
mod taint;
pub mod tests;

use minijinja::{Environment, UndefinedBehavior, Value};
use std::path::Path;
use std::sync::Arc;

/// The value Ansible's `omit` variable holds; module arguments equal to it are dropped.
pub const OMIT: &str = "__omit_place_holder__8c7b7a36d2b1";

/// A template or expression error, with the template's own position when it has one.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct TemplateError {
    pub message: String,
    /// 1-based line inside the template text, when minijinja knows it.
    pub line: Option<usize>,
    /// The template lines around the failure with a caret and the variable names it
    /// uses (see [`frame::frame`]); never values.
    pub frame: Option<String>,
}

impl TemplateError {
    /// The message, then the frame on the lines below it when there is one.
    pub fn detailed(&self) -> String {
        match &self.frame {
            Some(f) => format!("{}\n{f}", self.message),
            None => self.message.clone(),
        }
    }
}

impl From<minijinja::Error> for TemplateError {
    fn from(e: minijinja::Error) -> Self {
        let mut message = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            message.push_str(&format!(": {s}"));
            src = s.source();
        }
        TemplateError {
            message,
            line: e.line(),
            frame: frame::frame(&e),
        }
    }
}

/// The template engine. One per run; shared by every host task.
#[derive(Clone)]
pub struct Templar {
    env: Arc<Environment<'static>>,
}

impl Default for Templar {
    fn default() -> Self {
        Self::new()
    }
}

impl Templar {
    pub fn new() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::ChainableStrict);
        // keep the template source for error frames in release builds too
        env.set_debug(true);
        env.set_syntax(syntax(true));
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        minijinja_contrib::add_to_environment(&mut env);
        // Print values as Ansible (Python) does: True, None as empty, ['a'].
        env.set_formatter(filters::format_value);
        filters::register(&mut env);
        tests::register(&mut env);
        lookup::register(&mut env);
        Templar { env: Arc::new(env) }
    }

    /// Whether a string contains template syntax.
    pub fn is_template(s: &str) -> bool {
        s.contains("{{") || s.contains("{%") || s.contains("{#")
    }

    /// Renders a string; a lone `{{ expr }}` keeps its native type.
    pub fn render_str(&self, s: &str, ctx: &Value) -> Result<Value, TemplateError> {
        if !Self::is_template(s) {
            return Ok(Value::from(s));
        }
        // Strings from YAML: Ansible doubles backslashes inside `{{ }}` string literals,
        // so `regex_replace('(\\d+)', '\\1')` means what it says.
        let escaped = filters::escape_backslashes(s);
        let s: &str = &escaped;
        if let Some(expr) = single_expression(s) {
            let v = self.eval_expr(expr, ctx)?;
            if v.is_undefined() {
                return Err(self.undefined_error(expr, ctx));
            }
            if v.kind() == minijinja::value::ValueKind::Invalid {
                return Err(TemplateError {
                    message: v.to_string(),
                    line: None,
                    frame: None,
                });
            }
            return Ok(v);
        }
        Ok(Value::from(self.env.render_str(s, ctx)?))
    }

    /// Renders a string to a string.
    pub fn render_string(&self, s: &str, ctx: &Value) -> Result<String, TemplateError> {
        if !Self::is_template(s) {
            return Ok(s.to_string());
        }
        Ok(self.env.render_str(s, ctx)?)
    }

    /// Renders every string inside a value (lists and mappings recursively).
    pub fn render_value(&self, v: &Value, ctx: &Value) -> Result<Value, TemplateError> {
        use minijinja::value::ValueKind;
        match v.kind() {
            ValueKind::String => self.render_str(v.as_str().unwrap_or_default(), ctx),
            ValueKind::Seq => {
                let mut out = Vec::new();
                for item in v.try_iter().map_err(TemplateError::from)? {
                    out.push(self.render_value(&item, ctx)?);
                }
                Ok(Value::from(out))
            }
            ValueKind::Map => {
                let mut out = indexmap::IndexMap::new();
                for key in v.try_iter().map_err(TemplateError::from)? {
                    let val = v.get_item(&key).map_err(TemplateError::from)?;
                    let k = match key.as_str() {
                        Some(s) => self.render_string(s, ctx)?,
                        None => key.to_string(),
                    };
                    out.insert(k, self.render_value(&val, ctx)?);
                }
                Ok(Value::from_pairs(out))
            }
            _ => Ok(v.clone()),
        }
    }

    /// Evaluates an expression (`when:`, `changed_when:`, `loop:` ...).
    pub fn eval_expr(&self, expr: &str, ctx: &Value) -> Result<Value, TemplateError> {
        let e = self.env.compile_expression(expr.trim())?;
        Ok(e.eval(ctx)?)
    }

    /// Evaluates a condition. Ansible accepts a bare expression or `{{ expr }}`; an
    /// undefined result (`when: nope`, `when: nope.attr`) fails as in Ansible.
    pub fn eval_condition(&self, expr: &str, ctx: &Value) -> Result<bool, TemplateError> {
        let t = expr.trim();
        let (inner, v) = match single_expression(t) {
            Some(inner) => (inner, self.eval_expr(inner, ctx)?),
            None if Self::is_template(t) => (t, Value::from(self.render_string(t, ctx)?)),
            None => (t, self.eval_expr(t, ctx)?),
        };
        if v.is_undefined() {
            return Err(self.undefined_error(inner, ctx));
        }
        Ok(truthy(&v))
    }

    /// The error for an expression whose value is undefined: `'d.missing' is undefined`
    /// when only the last step is missing, otherwise minijinja's message naming the
    /// undefined value the chain came from (`nope.attr` -> `` `nope` is undefined``).
    fn undefined_error(&self, expr: &str, ctx: &Value) -> TemplateError {
        let expr = expr.trim();
        let plain = |p: &str| !p.is_empty() && p.chars().all(|c| c.is_alphanumeric() || c == '_');
        let parent_defined = match expr.rsplit_once('.') {
            None => plain(expr),
            Some((parent, last)) => {
                plain(last)
                    && parent.split('.').all(plain)
                    && self.eval_expr(parent, ctx).is_ok_and(|v| !v.is_undefined())
            }
        };
        let named = || TemplateError {
            message: format!("'{expr}' is undefined"),
            line: None,
            frame: None,
        };
        if parent_defined {
            return named();
        }
        // Concatenating an undefined value fails with the name of its origin.
        self.eval_expr(&format!("({expr}) ~ ''"), ctx)
            .err()
            .unwrap_or_else(named)
    }

    /// Renders a template file (the template module, lookup('template')).
    pub fn render_file(&self, path: &Path, ctx: &Value) -> Result<String, TemplateError> {
        let text = std::fs::read_to_string(path).map_err(|e| TemplateError {
            message: format!("cannot read {}: {e}", path.display()),
            line: None,
            frame: None,
        })?;
        let mut env = (*self.env).clone();
        env.set_syntax(syntax(false));
        let name = path.display().to_string();
        env.add_template_owned(name.clone(), text.clone())?;
        let t = env.get_template(&name)?;
        Ok(restore_trailing_newlines(&text, t.render(ctx)?))
    }

    /// The underlying environment (for the lookup plugins and tests).
    pub fn env(&self) -> &Environment<'static> {
        &self.env
    }
}

/// The default syntax (`trim_blocks`). Inline strings keep their trailing newline;
/// template files are rendered without it and get [`restore_trailing_newlines`].
pub(crate) fn syntax(keep_trailing_newline: bool) -> minijinja::syntax::SyntaxConfig {
    minijinja::syntax::SyntaxConfig::builder()
        .trim_blocks(true)
        .keep_trailing_newline(keep_trailing_newline)
        .build()
        .expect("valid syntax config")
}

/// Ansible's trailing newlines for a template file rendered with
/// `keep_trailing_newline` off (so included templates add none): newlines are added
/// back while the result ends with fewer of them than the source does.
/// `"a\n{{ extra }}\n"` with `extra: ""` renders `"a\n"`, not `"a\n\n"`.
pub fn restore_trailing_newlines(source: &str, mut rendered: String) -> String {
    let count = |s: &str| s.bytes().rev().take_while(|b| *b == b'\n').count();
    let missing = count(source).saturating_sub(count(&rendered));
    rendered.push_str(&"\n".repeat(missing));
    rendered
}

/// Python/Ansible truthiness, plus Ansible's string booleans (`"yes"`, `"False"`).
pub fn truthy(v: &Value) -> bool {
    if let Some(s) = v.as_str() {
        return match s.trim().to_ascii_lowercase().as_str() {
            "" | "false" | "no" | "off" | "0" | "n" | "none" => false,
            _ => true,
        };
    }
    v.is_true()
}

/// If `s` is exactly one `{{ ... }}` (and nothing else), returns the expression inside.
pub fn single_expression(s: &str) -> Option<&str> {
    // Surrounding whitespace makes it a string (`"{{ x }}\n"` keeps its newline).
    let inner = s.strip_prefix("{{")?.strip_suffix("}}")?;
    let inner = inner.strip_prefix('-').unwrap_or(inner);
    let inner = inner.strip_suffix('-').unwrap_or(inner);
    if inner.contains("{{") || inner.contains("}}") || inner.contains("{%") {
        return None;
    }
    Some(inner)
}

/// Converts a template value to JSON (for module arguments and registered results).
pub fn to_json(v: &Value) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// Converts JSON to a template value.
pub fn from_json(v: &serde_json::Value) -> Value {
    Value::from(minijinja::value::Serde(v))
}

#[cfg(test)]
mod unit {
    use super::*;
    use filters::py_str;
    use minijinja::context;

    #[test]
    fn native_types_for_single_expressions() {
        let t = Templar::new();
        let ctx = context! { ports => vec![80, 443], name => "web" };
        let v = t.render_str("{{ ports }}", &ctx).unwrap();
        assert_eq!(v.len(), Some(2));
        assert_eq!(
            t.render_str("host-{{ name }}", &ctx).unwrap().as_str(),
            Some("host-web")
        );
    }

    #[test]
    fn strict_undefined() {
        let t = Templar::new();
        assert!(t.render_str("{{ nope }}", &context! {}).is_err());
        assert!(!t.eval_condition("nope is defined", &context! {}).unwrap());
        assert_eq!(
            t.render_str("{{ nope | default('x') }}", &context! {})
                .unwrap()
                .as_str(),
            Some("x")
        );
    }

    fn chain_ctx() -> Value {
        context! { d => context! { a => 1 }, l => vec![1, 2] }
    }

    #[test]
    fn undefined_is_chainable_under_default_and_tests() {
        // ansible-core 2.21: each of these renders, none fails.
        let t = Templar::new();
        let ctx = chain_ctx();
        for (expr, want) in [
            ("{{ nope.attr | default('x') }}", "x"),
            ("{{ d.missing.deeper | default('z') }}", "z"),
            ("{{ nope['k'] | default('q') }}", "q"),
            ("{{ nope.a['b'].c | d('w') }}", "w"),
            ("{{ nope.attr is defined }}", "False"),
            ("{{ d.missing.deeper is undefined }}", "True"),
            ("{{ d.a.b is defined }}", "False"),
            ("v={{ nope.attr | default('x') }}", "v=x"),
            ("{% if nope.attr is defined %}y{% else %}n{% endif %}", "n"),
        ] {
            let v = t
                .render_str(expr, &ctx)
                .unwrap_or_else(|e| panic!("{expr}: {}", e.message));
            assert_eq!(py_str(&v), want, "{expr}");
        }
        assert!(!t.eval_condition("nope.attr is defined", &ctx).unwrap());
        assert!(t
            .eval_condition("d.missing.deeper is undefined", &ctx)
            .unwrap());
        assert!(t
            .eval_condition("{{ d.missing.deeper is undefined }}", &ctx)
            .unwrap());
        assert!(t.eval_condition("nope.attr | default(true)", &ctx).unwrap());
    }

    #[test]
    fn chained_undefined_still_fails_when_used() {
        let t = Templar::new();
        let ctx = chain_ctx();
        let err = |s: &str| match t.render_str(s, &ctx) {
            Ok(v) => panic!("{s} rendered {v:?}"),
            Err(e) => e.message,
        };
        // Printed: the variable the chain came from is named.
        assert!(err("{{ nope.attr }}").contains("`nope` is undefined"));
        assert!(err("x{{ nope.attr }}").contains("`nope` is undefined"));
        assert!(err("{{ d.missing.deeper }}").contains("`d.missing` is undefined"));
        assert_eq!(err("{{ d.missing }}"), "'d.missing' is undefined");
        assert_eq!(err("{{ nope }}"), "'nope' is undefined");
        // Iterated, compared, used in arithmetic or as a string.
        assert!(err("{% for i in nope.attr %}{% endfor %}").contains("`nope` is undefined"));
        assert!(err("{{ nope.attr == 1 }}").contains("`nope` is undefined"));
        assert!(err("{{ nope.attr + 1 }}").contains("`nope` is undefined"));
        assert!(err("{{ nope.attr | upper }}").contains("`nope` is undefined"));
        assert!(err("{% if nope.attr %}y{% endif %}").contains("`nope` is undefined"));
        // Conditions: an undefined result fails, as `when:` does in Ansible.
        let cond = |s: &str| t.eval_condition(s, &ctx).unwrap_err().message;
        assert!(cond("nope.attr").contains("`nope` is undefined"));
        assert_eq!(cond("nope"), "'nope' is undefined");
        assert!(cond("not nope.attr").contains("`nope` is undefined"));
        assert!(cond("nope.attr == 'x'").contains("`nope` is undefined"));
    }

    #[test]
    fn template_files_keep_trailing_newlines_as_ansible() {
        // (source, rendered by ansible-core's template module / lookup)
        let cases = [
            ("a\n{{ extra }}\n", "a\n"),
            ("a\n{{ extra }}", "a\n"),
            ("a\n", "a\n"),
            ("a\n\n", "a\n\n"),
            ("a", "a"),
            ("{{ line }}\n", "b\n"),
            ("{{ line }}\n\n", "b\n\n"),
            ("{% if false %}x\n{% endif %}\n", "\n"),
        ];
        let t = Templar::new();
        let ctx = context! { extra => "", line => "b\n" };
        let dir = tempfile::tempdir().unwrap();
        for (i, (src, want)) in cases.iter().enumerate() {
            let path = dir.path().join(format!("t{i}.j2"));
            std::fs::write(&path, src).unwrap();
            assert_eq!(t.render_file(&path, &ctx).unwrap(), *want, "file {src:?}");
            let lookup = format!("{{{{ lookup('template', '{}') }}}}", path.display());
            assert_eq!(
                py_str(&t.render_str(&lookup, &ctx).unwrap()),
                *want,
                "lookup {src:?}"
            );
        }
        // Inline strings (YAML values) are not template files: unchanged.
        assert_eq!(t.render_string("a\n{{ extra }}\n", &ctx).unwrap(), "a\n\n");
    }

    #[test]
    fn pycompat_methods() {
        let t = Templar::new();
        let ctx = context! { s => "a,b" };
        assert_eq!(
            t.render_string("{{ s.split(',') | join('-') }}", &ctx)
                .unwrap(),
            "a-b"
        );
    }
}

#[cfg(test)]
mod render_value_tests {
    use super::*;

    #[test]
    fn maps_survive_render_and_json() {
        let t = Templar::new();
        let mut m = indexmap::IndexMap::new();
        m.insert("name".to_string(), Value::from("{{ u }}"));
        let v = Value::from_pairs(m);
        let ctx = minijinja::context! { u => "x" };
        let r = t.render_value(&v, &ctx).unwrap();
        assert_eq!(to_json(&r), serde_json::json!({"name": "x"}));
    }
}
