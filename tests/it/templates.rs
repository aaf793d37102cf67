//! Templates as Ansible renders them: filters, tests and lookups, checked against the
//! outputs Ansible documents (and ansible-core 2.19 produces).

use minijinja::Value;
use rdeploy::template::filters::py_repr;
use rdeploy::template::Templar;

#[test]
#[ignore]
fn dev_compare_cases() {
    let t = Templar::new();
    let ctx = minijinja::context! { my_var => "mv", my_other => 1, playbook_dir => "/tmp/cmp" };
    let text = std::fs::read_to_string("/tmp/cmp/cases.txt").unwrap();
    let mut out = String::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let r = t.eval_expr(line, &ctx);
        match r {
            Ok(v) => out.push_str(&format!("{line}  =>  {}\n", py_repr(&v))),
            Err(e) => out.push_str(&format!("{line}  =>  ERR {}\n", e.message.lines().next().unwrap_or(""))),
        }
    }
    std::fs::write("/tmp/cmp/mine.out", out).unwrap();
    let _ = Value::from(());
}
