//! Every configuration shipped in a Kubernetes ConfigMap passes `hookgate check`, laid
//! out as the pod sees it (ConfigMap at /etc/hookgate/config, the Secret beside it at
//! /etc/hookgate/secrets), and every kustomization lists files that exist.

use std::path::Path;
use std::process::Command;

use crate::support::common::*;

fn yaml(path: &Path) -> serde_yaml_ng::Value {
    serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn write_map(value: &serde_yaml_ng::Value, key: &str, dir: &Path) -> usize {
    std::fs::create_dir_all(dir).unwrap();
    let map = value[key]
        .as_mapping()
        .unwrap_or_else(|| panic!("no {key}"));
    for (k, v) in map {
        std::fs::write(dir.join(k.as_str().unwrap()), v.as_str().unwrap()).unwrap();
    }
    map.len()
}

#[test]
fn every_shipped_config_passes_check() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes");
    let mut checked = 0;
    for layout in std::fs::read_dir(&root).unwrap() {
        let layout = layout.unwrap().path();
        let kustomization = yaml(&layout.join("kustomization.yaml"));
        for r in kustomization["resources"].as_sequence().unwrap() {
            assert!(
                layout.join(r.as_str().unwrap()).exists(),
                "{}: missing {r:?}",
                layout.display()
            );
        }
        let tmp = tempfile::tempdir().unwrap();
        write_map(
            &yaml(&layout.join("configmap.yaml")),
            "data",
            &tmp.path().join("config"),
        );
        write_map(
            &yaml(&layout.join("secret.yaml")),
            "stringData",
            &tmp.path().join("secrets"),
        );
        // The shipped Secret holds placeholders (REPLACE_ME), which only `--dev` accepts:
        // a deployment that kept one must not start.
        let refused = Command::new(BIN)
            .args(["check", "-c"])
            .arg(tmp.path().join("config/hookgate.yaml"))
            .output()
            .unwrap();
        assert_eq!(refused.status.code(), Some(1), "{}", layout.display());
        assert!(
            String::from_utf8_lossy(&refused.stderr).contains("placeholder"),
            "{}: {}",
            layout.display(),
            String::from_utf8_lossy(&refused.stderr)
        );
        let out = Command::new(BIN)
            .args(["check", "--dev", "-c"])
            .arg(tmp.path().join("config/hookgate.yaml"))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}: {stdout}{}",
            layout.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        // The memory the configuration budgets for is the container's limit, and its
        // request bodies fit in it (`hookgate check` warns otherwise).
        let config: serde_yaml_ng::Value = serde_yaml_ng::from_str(
            yaml(&layout.join("configmap.yaml"))["data"]["hookgate.yaml"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        let budget = config["limits"]["memory"].as_str().expect("limits.memory");
        assert_eq!(
            budget.replace("MiB", "Mi"),
            container_memory_limit(&workload(&layout)),
            "{}: limits.memory and the hookgate container's memory limit differ",
            layout.display()
        );
        assert!(
            stdout.contains("limits: bodies held at once") && !stdout.contains("warning: limits"),
            "{}: {stdout}",
            layout.display()
        );
        checked += 1;
    }
    assert_eq!(checked, 2, "sidecar and gateway");
}

/// The layout's workload: the gateway's StatefulSet, the sidecar's Deployment.
fn workload(layout: &Path) -> std::path::PathBuf {
    ["statefulset.yaml", "deployment.yaml"]
        .iter()
        .map(|f| layout.join(f))
        .find(|p| p.exists())
        .expect("a workload manifest")
}

/// `resources.limits.memory` of the container named hookgate in a Deployment or StatefulSet.
fn container_memory_limit(deployment: &Path) -> String {
    let d = yaml(deployment);
    d["spec"]["template"]["spec"]["containers"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|c| c["name"].as_str() == Some("hookgate"))
        .expect("a container named hookgate")["resources"]["limits"]["memory"]
        .as_str()
        .unwrap()
        .to_string()
}
