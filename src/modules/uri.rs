//! The `uri` module: an HTTP request made ON THE HOST with curl, in one exchange.
//! The URL, headers and credentials go to curl as a config file on stdin, the body
//! follows on stdin (`--data-binary @-`): nothing user-given is on a command line.
//! Returns `status`, `url`, lowercased response headers, `json` (for JSON-ish content
//! types), `content` (with `return_content`, or on an unexpected status); fails when
//! the status is not in `status_code`. Like Ansible's, it is skipped in check mode.

use super::get_url::{curl_quote, stdin_blocks, url_filename, HttpOpts};
use super::util::sections;
use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult, Outcome};
use crate::shell::Script;
use async_trait::async_trait;
use serde_json::{json, Map, Value};

pub struct Uri;

const PARAMS: &[&str] = &[
    "url",
    "method",
    "body",
    "body_format",
    "headers",
    "status_code",
    "return_content",
    "timeout",
    "validate_certs",
    "url_username",
    "user",
    "url_password",
    "password",
    "force_basic_auth",
    "follow_redirects",
    "creates",
    "removes",
    "dest",
    "src",
    "remote_src",
    "unix_socket",
    "use_proxy",
    "http_agent",
    "decompress",
    "client_cert",
    "client_key",
    "ca_path",
    "unredirected_headers",
    "use_gssapi",
    "use_netrc",
    "ciphers",
    "mode",
    "owner",
    "group",
    "force",
];

/// `application/x-www-form-urlencoded` encoding of one value.
pub fn form_encode(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                o.push(b as char)
            }
            b' ' => o.push('+'),
            _ => o.push_str(&format!("%{b:02X}")),
        }
    }
    o
}

fn form_body(v: &Value) -> Result<String, ModuleError> {
    let vs = super::args::value_to_string;
    let mut parts = Vec::new();
    let mut add = |k: &str, v: &Value| match v {
        Value::Array(a) => {
            for x in a {
                parts.push(format!("{}={}", form_encode(k), form_encode(&vs(x))));
            }
        }
        Value::Null => {}
        other => parts.push(format!("{}={}", form_encode(k), form_encode(&vs(other)))),
    };
    match v {
        Value::String(s) => return Ok(s.clone()),
        Value::Object(m) => {
            for (k, v) in m {
                add(k, v);
            }
        }
        Value::Array(a) => {
            for pair in a {
                match pair {
                    Value::Array(kv) if kv.len() == 2 => add(&vs(&kv[0]), &kv[1]),
                    _ => return Err(ModuleError::failed("failed to parse body as form_urlencoded: expected a list of [key, value] pairs")),
                }
            }
        }
        other => return Ok(vs(other)),
    }
    Ok(parts.join("&"))
}

/// Response headers of the last response in a `curl -D` dump: `(status line, headers)`.
pub fn parse_headers(dump: &str) -> (String, Vec<(String, String)>) {
    let mut status = String::new();
    let mut headers = Vec::new();
    for line in dump.lines() {
        let line = line.trim_end_matches('\r');
        if line.starts_with("HTTP/") {
            status = line.to_string();
            headers.clear();
        } else if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    (status, headers)
}

#[async_trait]
impl Module for Uri {
    fn name(&self) -> &'static str {
        "uri"
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(PARAMS)
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        args.check_known("uri", PARAMS)?;
        let url = args.req_str("url")?;
        let method = args
            .str("method")
            .unwrap_or_else(|| "GET".into())
            .to_uppercase();
        if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(ModuleError::failed(
                "Parameter 'method' needs to be a single word in uppercase, like GET or POST.",
            ));
        }
        if args.has("src") {
            return Err(ModuleError::failed("uri: src is not supported by rdeploy; pass the content as body (e.g. body: \"{{ lookup('file', 'x.json') }}\")"));
        }
        let body_format = args
            .str("body_format")
            .unwrap_or_else(|| "raw".into())
            .to_lowercase();
        let mut http = HttpOpts::from_args(args, url.clone(), 30)?;
        http.agent = args
            .str("http_agent")
            .unwrap_or_else(|| "ansible-httpget".into());
        let has_ct = http
            .headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
        let body: Option<String> = match (args.get("body"), body_format.as_str()) {
            (None, _) => None,
            (Some(v), "json") => {
                if !has_ct {
                    http.headers.push(("Content-Type".into(), "application/json".into()));
                }
                Some(match v {
                    Value::String(s) => s.clone(),
                    other => serde_json::to_string(other).unwrap_or_default(),
                })
            }
            (Some(v), "form-urlencoded") => {
                if !has_ct {
                    http.headers.push(("Content-Type".into(), "application/x-www-form-urlencoded".into()));
                }
                Some(form_body(v)?)
            }
            (Some(_), "form-multipart") => return Err(ModuleError::failed("uri: body_format form-multipart is not supported yet")),
            (Some(v), "raw") => Some(super::args::value_to_string(v)),
            (Some(_), other) => return Err(ModuleError::failed(format!("uri: body_format must be one of: form-urlencoded, json, raw, form-multipart; got {other}"))),
        };
        let follow = args
            .str("follow_redirects")
            .unwrap_or_else(|| "safe".into())
            .to_lowercase();
        http.follow_redirects = match follow.as_str() {
            "all" | "yes" | "true" | "urllib2" => true,
            "safe" => method == "GET" || method == "HEAD",
            _ => false,
        };
        let status_codes: Vec<i64> = match args.list("status_code") {
            Some(l) => l
                .iter()
                .map(|s| {
                    s.trim().parse::<i64>().map_err(|_| {
                        ModuleError::failed(format!("uri: status_code {s:?} is not an integer"))
                    })
                })
                .collect::<Result<_, _>>()?,
            None => vec![200],
        };
        let return_content = args.bool_or("return_content", false)?;

        // creates/removes are checked on the host in the same exchange.
        let creates = args.str("creates");
        let removes = args.str("removes");
        if ctx.check_mode {
            let mut o = Outcome::ok();
            o.skipped = true;
            return Ok(o.with_msg("skipped: uri does not support check mode"));
        }

        let mut cfg = http.curl_config();
        if method == "HEAD" {
            cfg.push_str("head\n");
        } else {
            cfg.push_str(&format!("request = {}\n", curl_quote(&method)));
        }
        if let Some(sock) = args.str("unix_socket") {
            cfg.push_str(&format!("unix-socket = {}\n", curl_quote(&sock)));
        }
        if let Some(ca) = args.str("ca_path") {
            cfg.push_str(&format!("cacert = {}\n", curl_quote(&ca)));
        }
        let mut stdin = stdin_blocks(&cfg, "", "");
        if let Some(b) = &body {
            stdin.extend_from_slice(b.as_bytes());
        }

        let mut s = Script::new();
        s.raw("LC_ALL=C; export LC_ALL\n");
        if let Some(c) = &creates {
            s.raw("if [ -e ")
                .arg(c)
                .raw(" ]; then echo '@@RD creates'; exit 0; fi\n");
        }
        if let Some(r) = &removes {
            s.raw("if [ ! -e ")
                .arg(r)
                .raw(" ]; then echo '@@RD removes'; exit 0; fi\n");
        }
        s.raw("command -v curl >/dev/null 2>&1 || { echo 'uri: curl is not installed on the host (the uri module runs curl there)' >&2; exit 97; }\n");
        s.raw(&super::get_url::read_configs_script());
        s.raw("rd_hdr=$(mktemp) && rd_body=$(mktemp) || exit 3\ntrap 'rm -f \"$rd_ccfg\" \"$rd_wcfg\" \"$rd_wurl\" \"$rd_hdr\" \"$rd_body\"' EXIT\n");
        s.raw("rd_t0=$(date +%s)\n");
        if body.is_some() {
            s.raw("rd_w=$(curl -K \"$rd_ccfg\" --data-binary @- -D \"$rd_hdr\" -o \"$rd_body\" -w '%{http_code} %{num_redirects} %{url_effective}'); rd_rc=$?\n");
        } else {
            s.raw("rd_w=$(curl -K \"$rd_ccfg\" -D \"$rd_hdr\" -o \"$rd_body\" -w '%{http_code} %{num_redirects} %{url_effective}' </dev/null); rd_rc=$?\n");
        }
        s.raw("echo \"@@RD status $rd_rc $(( $(date +%s) - rd_t0 )) $rd_w\"\n");
        let dest = args.str("dest");
        if let Some(d) = &dest {
            s.assign("rd_dest", d)
                .raw("\n")
                .assign("rd_fname", &url_filename(&url))
                .raw("\n");
            s.raw("if [ $rd_rc = 0 ]; then\n  [ -d \"$rd_dest\" ] && rd_dest=\"${rd_dest%/}/$rd_fname\"\n");
            s.raw("  echo '@@RD path'; printf '%s\\n' \"$rd_dest\"\n");
            s.raw("  if [ ! -f \"$rd_dest\" ] || [ \"$(sha1sum < \"$rd_dest\")\" != \"$(sha1sum < \"$rd_body\")\" ]; then cp \"$rd_body\" \"$rd_dest\" && echo '@@RD written'; fi\nfi\n");
        }
        s.raw("echo '@@RD headers'; cat \"$rd_hdr\"\necho '@@RD body'; cat \"$rd_body\"\n");
        let out = ctx.run_stdin(s.as_str(), Some(stdin)).await?;
        if out.rc == 97 {
            return Err(ModuleError::failed(out.stderr_str().trim().to_string()));
        }
        if out.rc != 0 {
            return Err(ModuleError::failed(format!(
                "uri: request script failed (rc={}): {}",
                out.rc,
                out.stderr_str().trim()
            )));
        }
        let stdout = out.stdout_str();
        let (head, body_out) = match stdout.find("\n@@RD body\n") {
            Some(i) => (&stdout[..i], &stdout[i + "\n@@RD body\n".len()..]),
            None => (stdout.as_str(), ""),
        };
        let secs = sections(head);
        if secs.iter().any(|(n, _)| n == "creates") {
            return Ok(Outcome::ok().with(
                "msg",
                format!("skipped, since '{}' exists", creates.unwrap_or_default()),
            ));
        }
        if secs.iter().any(|(n, _)| n == "removes") {
            return Ok(Outcome::ok().with(
                "msg",
                format!(
                    "skipped, since '{}' does not exist",
                    removes.unwrap_or_default()
                ),
            ));
        }
        let st = secs
            .iter()
            .find_map(|(n, _)| n.strip_prefix("status ").map(String::from))
            .unwrap_or_default();
        let p: Vec<&str> = st.splitn(5, ' ').collect();
        let rc: i32 = p.first().and_then(|x| x.parse().ok()).unwrap_or(1);
        let elapsed: i64 = p.get(1).and_then(|x| x.parse().ok()).unwrap_or(0);
        let code: i64 = p.get(2).and_then(|x| x.parse().ok()).unwrap_or(0);
        let redirects: i64 = p.get(3).and_then(|x| x.parse().ok()).unwrap_or(0);
        let eff_url = p
            .get(4)
            .map(|x| x.to_string())
            .filter(|x| !x.is_empty())
            .unwrap_or_else(|| url.clone());
        let status = if rc != 0 && code == 0 {
            -1
        } else if code == 0 {
            200
        } else {
            code
        };
        let (status_line, headers) =
            parse_headers(super::util::section(&secs, "headers").unwrap_or(""));
        let mut o = Outcome::ok()
            .with("status", status)
            .with("url", eff_url)
            .with("elapsed", elapsed)
            .with("redirected", redirects > 0);
        let mut cookies = Map::new();
        let mut content_type = String::new();
        for (k, v) in &headers {
            let key = k.to_lowercase().replace('-', "_");
            if key == "set_cookie" {
                if let Some((cn, cv)) = v.split(';').next().and_then(|c| c.split_once('=')) {
                    cookies.insert(cn.trim().to_string(), json!(cv.trim()));
                }
            }
            if key == "content_type" {
                content_type = v.to_lowercase();
            }
            if !matches!(
                key.as_str(),
                "status"
                    | "url"
                    | "elapsed"
                    | "redirected"
                    | "msg"
                    | "changed"
                    | "failed"
                    | "content"
                    | "json"
            ) {
                o.data.insert(key, json!(v));
            }
        }
        let cookies_string = cookies
            .iter()
            .map(|(k, v)| format!("{}={}", k, v.as_str().unwrap_or("")))
            .collect::<Vec<_>>()
            .join("; ");
        o = o
            .with("cookies", Value::Object(cookies))
            .with("cookies_string", cookies_string);
        let size = body_out.len();
        let reason = status_line
            .splitn(3, ' ')
            .nth(2)
            .unwrap_or("")
            .trim()
            .to_string();
        let msg = if status == -1 {
            format!("Request failed: {}", out.stderr_str().trim())
        } else {
            format!("OK ({size} bytes)")
        };
        let subtype = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .split('/')
            .nth(1)
            .unwrap_or("")
            .to_string();
        if ["text", "json", "javascript"]
            .iter()
            .any(|c| subtype.contains(c))
        {
            if let Ok(j) = serde_json::from_str::<Value>(body_out) {
                o = o.with("json", j);
            }
        }
        let ok = status_codes.contains(&status);
        if return_content || !ok {
            o = o.with("content", body_out.to_string());
        }
        if let Some(pth) = super::util::section(&secs, "path") {
            o = o.with("path", pth.trim());
        }
        o.changed = secs.iter().any(|(n, _)| n == "written");
        if !ok {
            o.failed = true;
            let detail = if status == -1 {
                msg.clone()
            } else {
                format!("HTTP Error {status}: {reason}")
            };
            o.msg = Some(format!(
                "Status code was {status} and not {status_codes:?}: {detail}"
            ));
            return Ok(o);
        }
        Ok(o.with("msg", msg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(
            form_body(&json!({"name": "a b", "x": "&="})).unwrap(),
            "name=a+b&x=%26%3D"
        );
        assert_eq!(
            form_body(&json!([["a", "1"], ["a", "2"]])).unwrap(),
            "a=1&a=2"
        );
        assert_eq!(form_body(&json!("raw=1")).unwrap(), "raw=1");
    }

    #[test]
    fn headers() {
        let (st, h) = parse_headers("HTTP/1.1 301 Moved\r\nLocation: /x\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n");
        assert_eq!(st, "HTTP/1.1 200 OK");
        assert_eq!(
            h,
            vec![("Content-Type".to_string(), "application/json".to_string())]
        );
    }
}
