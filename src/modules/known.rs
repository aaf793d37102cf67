//! Module names that exist in Ansible (ansible-core and its most used collections)
//! but that rdeploy does not implement. A task using one of them loads (it may sit in
//! a file imported under a false `when`, as `setup-RedHat.yml` files of Galaxy roles
//! do, and then never runs); it fails with a clear message only if it runs on a host.
//! Names rdeploy does implement are in [`super::registry`], not here.

/// `(collection, module)`: Ansible's modules rdeploy does not implement.
const ELSEWHERE: &[(&str, &[&str])] = &[
    (
        "ansible.builtin",
        &[
            "dnf",
            "dnf5",
            "expect",
            "iptables",
            "mount_facts",
            "rpm_key",
            "subversion",
            "yum",
            "yum_repository",
        ],
    ),
    (
        "ansible.posix",
        &[
            "acl",
            "at",
            "firewalld",
            "firewalld_info",
            "patch",
            "rhel_facts",
            "seboolean",
            "selinux",
            "synchronize",
        ],
    ),
    (
        "community.general",
        &[
            "alternatives",
            "apk",
            "archive",
            "capabilities",
            "filesystem",
            "gem",
            "git_config",
            "homebrew",
            "htpasswd",
            "locale_gen",
            "lvg",
            "lvol",
            "make",
            "npm",
            "openssl_privatekey",
            "pacman",
            "pam_limits",
            "parted",
            "pkgng",
            "redhat_subscription",
            "snap",
            "supervisorctl",
            "xml",
            "yarn",
            "zypper",
            "zypper_repository",
        ],
    ),
    (
        "community.docker",
        &[
            "docker_container",
            "docker_image",
            "docker_network",
            "docker_volume",
        ],
    ),
    ("community.mysql", &["mysql_db", "mysql_user"]),
    (
        "community.postgresql",
        &["postgresql_db", "postgresql_user", "postgresql_privs"],
    ),
    (
        "community.crypto",
        &["openssl_certificate", "x509_certificate"],
    ),
];

/// The collection of an Ansible module rdeploy does not implement (`dnf` →
/// `ansible.builtin`); `None` for names Ansible does not have either. Takes a short
/// name or an FQCN (whose collection must then match).
pub fn collection_of(name: &str) -> Option<&'static str> {
    let short = super::short_name(name);
    let (coll, _) = ELSEWHERE.iter().find(|(_, ms)| ms.contains(&short))?;
    let written = name.strip_suffix(short).and_then(|c| c.strip_suffix('.'));
    match written {
        Some(c) if !c.is_empty() && c != *coll && c != "ansible.legacy" => None,
        _ => Some(coll),
    }
}

/// The error of a task that runs a module rdeploy does not know.
pub fn unknown_module_message(name: &str) -> String {
    match collection_of(name) {
        Some(coll) => format!(
            "module `{name}` ({coll}.{}) exists in Ansible but is not implemented by rdeploy \
             (a task using it loads, so that it can stay under a false `when`, but cannot run)",
            super::short_name(name)
        ),
        None => format!("unknown module {name}"),
    }
}

/// Every name of [`ELSEWHERE`] as `collection.module`, sorted.
pub fn all() -> Vec<String> {
    let mut v: Vec<String> = ELSEWHERE
        .iter()
        .flat_map(|(c, ms)| ms.iter().map(move |m| format!("{c}.{m}")))
        .collect();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_fqcns() {
        assert_eq!(collection_of("dnf"), Some("ansible.builtin"));
        assert_eq!(
            collection_of("ansible.builtin.dnf"),
            Some("ansible.builtin")
        );
        assert_eq!(
            collection_of("community.general.pacman"),
            Some("community.general")
        );
        assert_eq!(collection_of("community.general.dnf"), None);
        assert_eq!(collection_of("no_such_module"), None);
        assert!(unknown_module_message("yum").contains("not implemented by rdeploy"));
        assert_eq!(unknown_module_message("nope"), "unknown module nope");
    }

    #[test]
    fn no_name_is_also_implemented() {
        let reg = super::super::registry();
        for n in all() {
            assert!(
                reg.get(&n).is_none(),
                "{n} is implemented: remove it from known.rs"
            );
        }
    }
}
