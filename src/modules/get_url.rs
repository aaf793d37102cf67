//! The `get_url` module: downloads a URL ON THE HOST (curl, else wget) into a temporary
//! file next to `dest`, verifies `checksum`, and renames it over `dest` only when the
//! content differs (atomic). When `dest` exists and matches `checksum` (or exists and
//! neither `force` nor `checksum` is given) nothing is downloaded. One exchange (two
//! when the checksum itself comes from a URL).
//!
//! URL, headers and credentials reach curl/wget through a config file read from the
//! exchange's stdin: they appear in no command line and no script text.

use super::util::{attrs_script, fetch_fn, sections, Attrs};
use super::{Args, Module, ModuleCtx, ModuleError, ModuleResult, Outcome};
use crate::shell::Script;
use async_trait::async_trait;
use serde_json::Value;

pub struct GetUrl;

const PARAMS: &[&str] = &[
    "url",
    "dest",
    "checksum",
    "sha256sum",
    "mode",
    "owner",
    "group",
    "force",
    "headers",
    "timeout",
    "validate_certs",
    "url_username",
    "username",
    "url_password",
    "password",
    "force_basic_auth",
    "backup",
    "tmp_dest",
    "use_proxy",
    "http_agent",
    "decompress",
    "client_cert",
    "client_key",
    "unredirected_headers",
    "use_gssapi",
    "use_netrc",
    "ciphers",
    "attributes",
    "seuser",
    "serole",
    "setype",
    "selevel",
    "unsafe_writes",
];

/// Digest algorithms get_url and friends accept, as coreutils commands know them.
pub const ALGOS: &[&str] = &["md5", "sha1", "sha224", "sha256", "sha384", "sha512"];

/// Quotes a value for a curl config file (`"..."` with `\\`, `\"`, `\n`... escapes).
pub fn curl_quote(v: &str) -> String {
    let mut o = String::with_capacity(v.len() + 2);
    o.push('"');
    for c in v.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '"' => o.push_str("\\\""),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// HTTP request settings shared by get_url and uri.
#[derive(Debug, Clone, Default)]
pub struct HttpOpts {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub timeout: u64,
    pub validate_certs: bool,
    pub follow_redirects: bool,
    pub use_proxy: bool,
    pub agent: String,
    pub decompress: bool,
    pub client_cert: Option<String>,
    pub client_key: Option<String>,
}

impl HttpOpts {
    /// Reads the common URL arguments.
    pub fn from_args(args: &Args, url: String, default_timeout: u64) -> Result<Self, ModuleError> {
        Ok(HttpOpts {
            url,
            headers: headers_arg(args)?,
            username: args.str_any(&["url_username", "username", "user"]),
            password: args.str_any(&["url_password", "password"]),
            timeout: args
                .int("timeout")?
                .unwrap_or(default_timeout as i64)
                .max(1) as u64,
            validate_certs: args.bool_or("validate_certs", true)?,
            follow_redirects: true,
            use_proxy: args.bool_or("use_proxy", true)?,
            agent: args
                .str("http_agent")
                .unwrap_or_else(|| "ansible-httpget".into()),
            decompress: args.bool_or("decompress", true)?,
            client_cert: args.str("client_cert"),
            client_key: args.str("client_key"),
        })
    }

    /// A curl config file (for `curl -K`): everything user-given, nothing on argv.
    pub fn curl_config(&self) -> String {
        let mut c = String::new();
        c.push_str(&format!("url = {}\n", curl_quote(&self.url)));
        c.push_str("silent\nshow-error\n");
        c.push_str(&format!("connect-timeout = {}\n", self.timeout));
        // A stall (no byte for `timeout` seconds) aborts, as a socket timeout would.
        c.push_str(&format!("speed-time = {}\nspeed-limit = 1\n", self.timeout));
        if self.follow_redirects {
            c.push_str("location\n");
        }
        if !self.validate_certs {
            c.push_str("insecure\n");
        }
        if !self.use_proxy {
            c.push_str("noproxy = \"*\"\n");
        }
        if self.decompress {
            c.push_str("compressed\n");
        }
        c.push_str(&format!("user-agent = {}\n", curl_quote(&self.agent)));
        for (k, v) in &self.headers {
            c.push_str(&format!("header = {}\n", curl_quote(&format!("{k}: {v}"))));
        }
        if let Some(u) = &self.username {
            c.push_str(&format!(
                "user = {}\n",
                curl_quote(&format!(
                    "{}:{}",
                    u,
                    self.password.clone().unwrap_or_default()
                ))
            ));
        }
        if let Some(cc) = &self.client_cert {
            c.push_str(&format!("cert = {}\n", curl_quote(cc)));
        }
        if let Some(ck) = &self.client_key {
            c.push_str(&format!("key = {}\n", curl_quote(ck)));
        }
        c
    }

    /// A wgetrc file (for `wget --config`), the fallback when curl is missing.
    pub fn wgetrc(&self) -> String {
        let clean = |s: &str| s.replace(['\n', '\r'], " ");
        let mut c = String::new();
        c.push_str(&format!("timeout = {}\ntries = 1\n", self.timeout));
        if !self.validate_certs {
            c.push_str("check_certificate = off\n");
        }
        if !self.use_proxy {
            c.push_str("use_proxy = off\n");
        }
        c.push_str(&format!("user_agent = {}\n", clean(&self.agent)));
        for (k, v) in &self.headers {
            c.push_str(&format!("header = {}: {}\n", clean(k), clean(v)));
        }
        if let Some(u) = &self.username {
            c.push_str(&format!(
                "user = {}\npassword = {}\nauth_no_challenge = on\n",
                clean(u),
                clean(&self.password.clone().unwrap_or_default())
            ));
        }
        c
    }
}

/// `headers:` as a dict, or the legacy `"Key:value,Key2:value2"` string.
pub fn headers_arg(args: &Args) -> Result<Vec<(String, String)>, ModuleError> {
    match args.get("headers") {
        None => Ok(vec![]),
        Some(Value::Object(m)) => Ok(m
            .iter()
            .map(|(k, v)| (k.clone(), super::args::value_to_string(v)))
            .collect()),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(vec![]),
        Some(Value::String(s)) => s
            .split(',')
            .map(|kv| {
                kv.split_once(':')
                    .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                    .ok_or_else(|| ModuleError::failed(format!("headers: {kv:?} is not Key:value")))
            })
            .collect(),
        Some(v) => Err(ModuleError::failed(format!(
            "headers must be a dict, got {v}"
        ))),
    }
}

/// The file name a URL names (last path segment without query), Ansible's `url_filename`.
pub fn url_filename(url: &str) -> String {
    let no_frag = url.split('#').next().unwrap_or("");
    let no_query = no_frag.split('?').next().unwrap_or("");
    let after_scheme = no_query
        .split_once("://")
        .map(|(_, r)| r)
        .unwrap_or(no_query);
    let path = after_scheme.split_once('/').map(|(_, p)| p).unwrap_or("");
    let name = path.rsplit('/').next().unwrap_or("");
    if name.is_empty() {
        "index.html".into()
    } else {
        name.to_string()
    }
}

/// `algo:value` → (algo, value).
pub fn parse_checksum(c: &str) -> Result<(String, String), ModuleError> {
    let (algo, value) = c.split_once(':').ok_or_else(|| {
        ModuleError::failed("The checksum parameter has to be in format <algorithm>:<checksum>")
    })?;
    let algo = algo.trim().to_lowercase();
    if !ALGOS.contains(&algo.as_str()) {
        return Err(ModuleError::failed(format!(
            "Unsupported hash algorithm {algo}; use one of {}",
            ALGOS.join(", ")
        )));
    }
    Ok((algo, value.trim().to_string()))
}

/// Finds `filename`'s digest in a checksums file (`HASH  name` lines, or one bare hash).
pub fn checksum_from_file(text: &str, filename: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.len() == 1 && lines[0].split_whitespace().count() == 1 {
        return Some(lines[0].trim().to_string());
    }
    for line in lines {
        if let Some((h, rest)) = line.split_once(' ') {
            let mut f = rest.trim_start_matches([' ', '*']);
            f = f.trim_start_matches("./");
            if f.trim() == filename {
                return Some(h.to_string());
            }
        }
    }
    None
}

const SENTINEL: &str = "@@RD-END@@";

/// Shell code reading the stdin blocks (curl config, wgetrc, URL) into temp files
/// `$rd_ccfg`, `$rd_wcfg`, `$rd_wurl`, removed at exit together with `$rd_tmp`.
pub fn read_configs_script() -> String {
    format!(
        "rd_ccfg=$(mktemp) && rd_wcfg=$(mktemp) && rd_wurl=$(mktemp) || exit 3\n\
         rd_tmp=\n\
         trap 'rm -f \"$rd_ccfg\" \"$rd_wcfg\" \"$rd_wurl\" ${{rd_tmp:+\"$rd_tmp\"}}' EXIT\n\
         rd_block() {{ while IFS= read -r rd_l; do [ \"$rd_l\" = '{SENTINEL}' ] && break; printf '%s\\n' \"$rd_l\"; done; }}\n\
         rd_block > \"$rd_ccfg\"; rd_block > \"$rd_wcfg\"; rd_block > \"$rd_wurl\"\n"
    )
}

/// The stdin that goes with [`read_configs_script`].
pub fn configs_stdin(o: &HttpOpts) -> Vec<u8> {
    stdin_blocks(&o.curl_config(), &o.wgetrc(), &o.url)
}

/// The three blocks [`read_configs_script`] reads: curl config, wgetrc, URL.
pub fn stdin_blocks(curl: &str, wgetrc: &str, url: &str) -> Vec<u8> {
    format!(
        "{curl}{SENTINEL}\n{wgetrc}{SENTINEL}\n{}\n{SENTINEL}\n",
        url.replace('\n', "")
    )
    .into_bytes()
}

#[async_trait]
impl Module for GetUrl {
    fn name(&self) -> &'static str {
        "get_url"
    }
    fn params(&self) -> Option<&'static [&'static str]> {
        Some(PARAMS)
    }
    async fn run(&self, ctx: &ModuleCtx<'_>, args: &Args) -> ModuleResult {
        args.check_known("get_url", PARAMS)?;
        let url = args.req_str("url")?;
        let dest = args.req_str("dest")?;
        let force = args.bool_or("force", false)?;
        let backup = args.bool_or("backup", false)?;
        let attrs = Attrs::from_args(args)?;
        let http = HttpOpts::from_args(args, url.clone(), 10)?;
        let filename = url_filename(&url);
        let mut checksum = args.str("checksum").unwrap_or_default();
        if checksum.is_empty() {
            if let Some(s) = args.str("sha256sum") {
                checksum = format!("sha256:{s}");
            }
        }
        let (mut algo, mut want) = (String::new(), String::new());
        if !checksum.is_empty() {
            let (a, v) = parse_checksum(&checksum)?;
            algo = a;
            if v.contains("://") {
                // The digest comes from a checksums file: fetch it on the host first.
                let mut s = Script::new();
                s.raw(&fetch_fn(http.timeout, http.validate_certs));
                s.raw("rd_c=$(mktemp) || exit 3\ntrap 'rm -f \"$rd_c\"' EXIT\nrd_fetch ")
                    .arg(&v)
                    .raw(" \"$rd_c\" && cat \"$rd_c\"\n");
                let out = ctx.run(s.as_str()).await?;
                if out.rc != 0 {
                    return Err(ModuleError::failed(format!(
                        "get_url: failed to fetch checksum file {v}: {}",
                        out.stderr_str().trim()
                    )));
                }
                want = checksum_from_file(&out.stdout_str(), &filename).ok_or_else(|| {
                    ModuleError::failed(format!(
                        "Unable to find a checksum for file '{filename}' in '{v}'"
                    ))
                })?;
            } else {
                want = v;
            }
            want = want.to_lowercase();
            if !want.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ModuleError::failed(format!(
                    "The checksum format is invalid: {want:?} is not a hex digest"
                )));
            }
        }
        let algo_cmd = if algo.is_empty() {
            String::new()
        } else {
            format!("{algo}sum")
        };

        let mut s = Script::new();
        s.raw("LC_ALL=C; export LC_ALL\n");
        s.raw(&read_configs_script());
        s.assign("rd_dest", &dest).raw("\n");
        s.assign("rd_fname", &filename).raw("\n");
        s.assign("rd_want", &want).raw("\n");
        s.assign("rd_tmpdir", &args.str("tmp_dest").unwrap_or_default())
            .raw("\n");
        s.raw(&format!(
            "rd_force={}\nrd_algo='{}'\n",
            if force { 1 } else { 0 },
            algo_cmd
        ));
        s.raw("rd_isdir=0; if [ -d \"$rd_dest\" ]; then rd_isdir=1; rd_dest=\"${rd_dest%/}/$rd_fname\"; fi\n");
        s.raw("echo '@@RD dest'; printf '%s\\n' \"$rd_dest\"\n");
        s.raw("rd_dir=$(dirname \"$rd_dest\")\n[ -d \"$rd_dir\" ] || { echo \"Destination dir $rd_dir does not exist\" >&2; exit 4; }\n");
        s.raw(
            "rd_skip=0\nif [ $rd_isdir = 0 ] && [ -f \"$rd_dest\" ] && [ $rd_force = 0 ]; then\n",
        );
        s.raw("  if [ -n \"$rd_algo\" ]; then rd_cur=$($rd_algo \"$rd_dest\" | cut -d' ' -f1); [ \"$rd_cur\" = \"$rd_want\" ] && rd_skip=1; else rd_skip=1; fi\nfi\n");
        s.raw("if [ $rd_skip = 1 ]; then\n  echo '@@RD skip'\n");
        let mut a = Script::new();
        attrs_script(&mut a, "rd_dest", &attrs, ctx.check_mode, true);
        s.raw(a.as_str());
        s.raw("  echo '@@RD sha1'; sha1sum \"$rd_dest\" | cut -d' ' -f1\n  exit 0\nfi\n");
        if ctx.check_mode {
            s.raw("echo '@@RD would_download'\nexit 0\n");
        } else {
            s.raw("[ -n \"$rd_tmpdir\" ] || rd_tmpdir=$rd_dir\n");
            s.raw("rd_tmp=$(mktemp \"$rd_tmpdir/.rdeploy-get_url.XXXXXXXX\") || exit 3\n");
            s.raw("rd_t0=$(date +%s)\n");
            s.raw(
                "if command -v curl >/dev/null 2>&1; then\n\
                 \x20 rd_code=$(curl -K \"$rd_ccfg\" -o \"$rd_tmp\" -w '%{http_code}'); rd_rc=$?\n\
                 elif command -v wget >/dev/null 2>&1; then\n\
                 \x20 rd_hdr=$(mktemp); wget --config=\"$rd_wcfg\" -q -S -O \"$rd_tmp\" -i \"$rd_wurl\" 2>\"$rd_hdr\"; rd_rc=$?\n\
                 \x20 rd_code=$(awk '$1 ~ /^HTTP\\// {c=$2} END {print c}' \"$rd_hdr\"); grep -v '^  ' \"$rd_hdr\" >&2; rm -f \"$rd_hdr\"\n\
                 else\n\
                 \x20 echo 'get_url: neither curl nor wget is installed on the host' >&2; exit 97\n\
                 fi\n",
            );
            s.raw("echo \"@@RD status ${rd_code:-000} $rd_rc $(( $(date +%s) - rd_t0 ))\"\n");
            s.raw("case \"$rd_code\" in 4??|5??) exit 0;; esac\n[ $rd_rc = 0 ] || exit 0\n");
            s.raw("echo \"@@RD size $(wc -c < \"$rd_tmp\")\"\n");
            s.raw("if [ -n \"$rd_algo\" ]; then rd_got=$($rd_algo \"$rd_tmp\" | cut -d' ' -f1); if [ \"$rd_got\" != \"$rd_want\" ]; then echo \"@@RD mismatch $rd_got\"; exit 0; fi; fi\n");
            s.raw("rd_src=$(sha1sum \"$rd_tmp\" | cut -d' ' -f1); echo \"@@RD src $rd_src\"\n");
            s.raw(
                "rd_old=; [ -f \"$rd_dest\" ] && rd_old=$(sha1sum \"$rd_dest\" | cut -d' ' -f1)\n",
            );
            s.raw("if [ \"$rd_old\" = \"$rd_src\" ]; then\n  echo '@@RD same'\n");
            let mut a = Script::new();
            attrs_script(&mut a, "rd_dest", &attrs, false, true);
            s.raw(a.as_str());
            s.raw("else\n");
            s.raw("  if [ -e \"$rd_dest\" ]; then chmod --reference=\"$rd_dest\" \"$rd_tmp\"; chown --reference=\"$rd_dest\" \"$rd_tmp\" 2>/dev/null; ");
            s.raw("else chmod $(printf '%o' $(( 0666 & ~$(umask) ))) \"$rd_tmp\"; fi\n");
            if backup {
                s.raw("  if [ -f \"$rd_dest\" ]; then rd_bk=\"$rd_dest.$$.$(date +%Y-%m-%d@%H:%M:%S)~\"; cp -p \"$rd_dest\" \"$rd_bk\" && echo \"@@RD backup $rd_bk\"; fi\n");
            }
            s.raw(
                "  mv -f \"$rd_tmp\" \"$rd_dest\" || exit 3\n  rd_tmp=\n  echo '@@RD replaced'\n",
            );
            let mut a = Script::new();
            attrs_script(&mut a, "rd_dest", &attrs, false, true);
            s.raw(a.as_str());
            s.raw("fi\n");
        }
        let out = ctx
            .run_stdin(s.as_str(), Some(configs_stdin(&http)))
            .await?;
        let stdout = out.stdout_str();
        let stderr = out.stderr_str();
        if out.rc != 0 {
            return Err(ModuleError::failed(match out.rc {
                4 | 97 => stderr.trim().to_string(),
                rc => format!("get_url {url} failed (rc={rc}): {}", stderr.trim()),
            }));
        }
        let secs = sections(&stdout);
        let has = |n: &str| secs.iter().any(|(k, _)| k == n);
        let val = |p: &str| {
            secs.iter()
                .find_map(|(k, _)| k.strip_prefix(p).map(|v| v.trim().to_string()))
        };
        let final_dest = super::util::section(&secs, "dest")
            .unwrap_or(&dest)
            .trim()
            .to_string();
        let attrs_changed = stdout.lines().any(|l| l == "RD_ATTRS_CHANGED");
        let mut o = Outcome::ok()
            .with("url", url.clone())
            .with("dest", final_dest.clone());
        if !checksum.is_empty() {
            o = o.with("checksum", checksum.clone());
        }
        if has("skip") {
            o.changed = attrs_changed;
            if let Some(sha) = super::util::section(&secs, "sha1") {
                o = o.with("checksum_dest", sha.trim());
            }
            return Ok(o.with_msg("file already exists"));
        }
        if has("would_download") {
            o.changed = true;
            return Ok(o.with_msg("check mode: the file would be downloaded"));
        }
        let (code, rc, elapsed) = match val("status ") {
            Some(v) => {
                let p: Vec<&str> = v.split_whitespace().collect();
                (
                    p.first().copied().unwrap_or("000").to_string(),
                    p.get(1).copied().unwrap_or("1").parse::<i32>().unwrap_or(1),
                    p.get(2).copied().unwrap_or("0").parse::<i64>().unwrap_or(0),
                )
            }
            None => {
                return Err(ModuleError::failed(format!(
                    "get_url {url}: download did not run: {}",
                    stderr.trim()
                )))
            }
        };
        // file:// and other non-HTTP URLs report code 000: success is 200, failure -1.
        let status: i64 = match code.parse::<i64>().unwrap_or(0) {
            0 if rc == 0 => 200,
            0 => -1,
            c => c,
        };
        o = o.with("status_code", status).with("elapsed", elapsed);
        if (400..600).contains(&status) {
            o.failed = true;
            o.msg = Some(format!("Request failed: HTTP Error {status}"));
            return Ok(o);
        }
        if rc != 0 {
            o.failed = true;
            o.msg = Some(format!("Request failed: {}", stderr.trim()));
            return Ok(o);
        }
        if let Some(got) = val("mismatch ") {
            o.failed = true;
            o.msg = Some(format!(
                "The checksum for {final_dest} did not match {want}; it was {got}."
            ));
            return Ok(o);
        }
        let size: i64 = val("size ").and_then(|v| v.parse().ok()).unwrap_or(0);
        let src = val("src ").unwrap_or_default();
        o = o
            .with("size", size)
            .with("checksum_src", src.clone())
            .with("checksum_dest", src)
            .with("msg", format!("OK ({size} bytes)"));
        if let Some(b) = val("backup ") {
            o = o.with("backup_file", b);
        }
        o.changed = has("replaced") || attrs_changed;
        Ok(o.with_msg(format!("OK ({size} bytes)")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filenames() {
        assert_eq!(
            url_filename("https://example.com/a/b/tool-1.2.tar.gz?x=1#f"),
            "tool-1.2.tar.gz"
        );
        assert_eq!(url_filename("https://example.com/"), "index.html");
        assert_eq!(url_filename("https://example.com"), "index.html");
        assert_eq!(url_filename("file:///tmp/x.txt"), "x.txt");
    }

    #[test]
    fn checksums() {
        assert_eq!(
            parse_checksum("sha256:ABC").unwrap(),
            ("sha256".into(), "ABC".into())
        );
        assert!(parse_checksum("crc32:1").is_err());
        assert!(parse_checksum("abc").is_err());
        let f = "abc123  tool.tar.gz\ndef456 *other.bin\n";
        assert_eq!(
            checksum_from_file(f, "tool.tar.gz").as_deref(),
            Some("abc123")
        );
        assert_eq!(
            checksum_from_file(f, "other.bin").as_deref(),
            Some("def456")
        );
        assert_eq!(
            checksum_from_file("deadbeef\n", "x").as_deref(),
            Some("deadbeef")
        );
        assert_eq!(checksum_from_file(f, "nope"), None);
    }

    #[test]
    fn curl_config_keeps_secrets_quoted() {
        let o = HttpOpts {
            url: "https://h/x".into(),
            headers: vec![("Authorization".into(), "Bearer a\"b".into())],
            username: Some("u".into()),
            password: Some("p\\w".into()),
            timeout: 10,
            validate_certs: false,
            follow_redirects: true,
            use_proxy: true,
            agent: "ansible-httpget".into(),
            decompress: false,
            ..Default::default()
        };
        let c = o.curl_config();
        assert!(c.contains("url = \"https://h/x\"\n"));
        assert!(c.contains("header = \"Authorization: Bearer a\\\"b\"\n"));
        assert!(c.contains("user = \"u:p\\\\w\"\n"));
        assert!(c.contains("insecure\n"));
    }
}
