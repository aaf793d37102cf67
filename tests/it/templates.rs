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
    let text = std::fs::read_to_string("/tmp/cmp/cases2.txt").unwrap();
    let mut out = String::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let r = t.eval_expr(line, &ctx);
        match r {
            Ok(v) => out.push_str(&format!("{line}  =>  {}\n", py_repr(&v))),
            Err(e) => out.push_str(&format!("{line}  =>  ERR {}\n", e.message.lines().next().unwrap_or(""))),
        }
    }
    std::fs::write("/tmp/cmp/mine2.out", out).unwrap();
    let _ = Value::from(());
}

#[test]
#[ignore]
fn dev_compare_yaml() {
    let t = Templar::new();
    let cases: serde_json::Value = serde_json::from_str(&std::fs::read_to_string("/tmp/cmp/yaml_cases.json").unwrap()).unwrap();
    let mut bad = 0;
    for case in cases.as_array().unwrap() {
        let doc = rdeploy::template::from_json(&case["doc"]);
        let ctx = minijinja::context! { doc => doc };
        for (expr, key) in [("doc | to_yaml", "yaml"), ("doc | to_nice_yaml", "nice"), ("doc | to_nice_yaml(indent=2)", "nice2"), ("doc | to_json", "json"), ("doc | to_nice_json", "nicejson")] {
            let got = t.eval_expr(expr, &ctx).map(|v| v.as_str().unwrap_or("").to_string()).unwrap_or_else(|e| format!("ERR {}", e.message));
            let want = case[key].as_str().unwrap();
            if got != want {
                bad += 1;
                println!("--- {expr} of {}\nwant: {want:?}\ngot:  {got:?}", case["doc"]);
            }
        }
    }
    println!("{bad} mismatches");
}
